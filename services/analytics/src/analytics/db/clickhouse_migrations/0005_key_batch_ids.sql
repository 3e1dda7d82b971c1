-- The batches a bulk key event names (key-manager's key.sold and key.returned name each key's
-- batch, in the order of key_ids; key.allocated the batches it drew on), so that a batch's
-- figures count its keys that no per-key event names, such as those sold and never redeemed.
-- Empty for every other event, and for those written before the producers named batches.
ALTER TABLE events ADD COLUMN key_batch_ids Array(UUID) AFTER key_ids;
