-- The sha256 of the body a number was given for: the same Idempotency-Key
-- with another body is refused (422), never answered with someone else's
-- ticket number. Owner: core/store/numbering.
ALTER TABLE assigned_numbers ADD COLUMN body_sha256 text;
