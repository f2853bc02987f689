-- step: {{accounts}} accounts of {{balance}}
INSERT INTO bank_accounts (id, balance) SELECT i, {{balance}} FROM generate_series(1, {{accounts}}) AS i;
INSERT INTO bank_meta (accounts, total) VALUES ({{accounts}}, {{accounts}}::INT8 * {{balance}});
-- step: statistics
CREATE STATISTICS bank_stats FROM bank_accounts;
