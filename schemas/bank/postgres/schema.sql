-- bank (seed 000's `cockroach workload bank`): accounts and their balances. bank_meta records the total
-- that transfers must preserve, for `dcpbench check bank`.
CREATE TABLE bank_accounts (
  id int PRIMARY KEY,
  balance bigint NOT NULL
);
CREATE TABLE bank_meta (
  accounts int NOT NULL,
  total bigint NOT NULL
);
