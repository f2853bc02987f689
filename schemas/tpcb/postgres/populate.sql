-- pgbench -i's server-side data generation (-I G), at pgbench's scale: {{scale}} branches,
-- 10 tellers and 100,000 accounts per branch.
-- step: branches and tellers
INSERT INTO pgbench_branches (bid, bbalance) SELECT bid, 0 FROM generate_series(1, {{scale}}) AS bid;
INSERT INTO pgbench_tellers (tid, bid, tbalance) SELECT tid, (tid - 1) / 10 + 1, 0 FROM generate_series(1, {{tellers}}) AS tid;
-- step: {{accounts}} accounts
INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
SELECT aid, (aid - 1) / 100000 + 1, 0, '' FROM generate_series(1, {{accounts}}) AS aid;
-- step: vacuum analyze
VACUUM ANALYZE pgbench_branches, pgbench_tellers, pgbench_accounts, pgbench_history;
-- step: primary keys
ALTER TABLE pgbench_branches ADD PRIMARY KEY (bid);
ALTER TABLE pgbench_tellers ADD PRIMARY KEY (tid);
ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid);
