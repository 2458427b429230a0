-- Actors are recorded with typed ids: `admin` (the quick-start token),
-- `token:NAME`, `slack:ID` / `mattermost:ID`, `cli:USER`. What stored tokens
-- did before is given their `token:` id. A token that was named `admin` (or
-- with a ':') cannot be told apart from the identity it collided with, so
-- its history is left as it was; new token names cannot contain ':'.
UPDATE intents SET requested_by = 'token:' || requested_by
 WHERE requested_by IN (SELECT name FROM api_tokens) AND requested_by <> 'admin' AND instr(requested_by, ':') = 0;
UPDATE revisions SET created_by = 'token:' || created_by
 WHERE created_by IN (SELECT name FROM api_tokens) AND created_by <> 'admin' AND instr(created_by, ':') = 0;
UPDATE conversations SET created_by = 'token:' || created_by
 WHERE created_by IN (SELECT name FROM api_tokens) AND created_by <> 'admin' AND instr(created_by, ':') = 0;
UPDATE api_tokens SET created_by = 'token:' || created_by
 WHERE created_by IN (SELECT name FROM api_tokens) AND created_by <> 'admin' AND instr(created_by, ':') = 0;
