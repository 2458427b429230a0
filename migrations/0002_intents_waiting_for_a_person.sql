-- Whether an intent in awaiting_confirmation waits for a person (a chat or
-- CLI confirmation, an admin's approval, a language model's reading to be
-- checked). One that nobody waits on is only between two steps of its own
-- work, so a restart finds it interrupted instead of leaving it waiting for
-- ever. Intents already waiting when this migration runs are kept waiting
-- (nothing recorded says whether a person was asked), and can be cancelled.
ALTER TABLE intents ADD COLUMN waits_for_person INTEGER NOT NULL DEFAULT 0;
UPDATE intents SET waits_for_person = 1 WHERE status = 'awaiting_confirmation';
