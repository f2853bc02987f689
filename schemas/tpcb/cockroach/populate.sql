-- step: branches and tellers
INSERT INTO pgbench_branches (bid, bbalance) SELECT bid, 0 FROM generate_series(1, {{scale}}) AS bid;
INSERT INTO pgbench_tellers (tid, bid, tbalance) SELECT tid, (tid - 1) / 10 + 1, 0 FROM generate_series(1, {{tellers}}) AS tid;
-- step: {{accounts}} accounts
INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
SELECT aid, (aid - 1) / 100000 + 1, 0, '' FROM generate_series(1, {{accounts}}) AS aid;
-- step: statistics
ANALYZE pgbench_accounts;
