-- bank for CockroachDB (reviewed by reading, not run here). bank_meta gets an explicit key, since
-- CockroachDB would otherwise add a hidden rowid column.
CREATE TABLE bank_accounts (
  id INT4 PRIMARY KEY,
  balance INT8 NOT NULL
);
CREATE TABLE bank_meta (
  accounts INT4 NOT NULL,
  total INT8 NOT NULL,
  PRIMARY KEY (accounts)
);
