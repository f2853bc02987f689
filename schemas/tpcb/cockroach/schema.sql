-- pgbench's tables for CockroachDB (what `cockroach workload init` users know as pgbench's schema):
-- primary keys must exist at creation (or CockroachDB adds a hidden rowid); no fillfactor.
-- Written from CockroachDB's documentation; reviewed by reading, not run here.
CREATE TABLE pgbench_history (tid INT4, bid INT4, aid INT4, delta INT4, mtime TIMESTAMP, filler CHAR(22));
CREATE TABLE pgbench_tellers (tid INT4 PRIMARY KEY, bid INT4, tbalance INT4, filler CHAR(84));
CREATE TABLE pgbench_accounts (aid INT4 PRIMARY KEY, bid INT4, abalance INT4, filler CHAR(84));
CREATE TABLE pgbench_branches (bid INT4 PRIMARY KEY, bbalance INT4, filler CHAR(88));
