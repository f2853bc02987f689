-- step: {{accounts}} accounts of {{balance}}
INSERT INTO bank_accounts (id, balance) SELECT i, {{balance}} FROM generate_series(1, {{accounts}}) AS i;
INSERT INTO bank_meta (accounts, total) VALUES ({{accounts}}, {{accounts}}::bigint * {{balance}});
-- step: analyze
ANALYZE bank_accounts;
