-- Rules new in 0.2.
--
-- sessions.verified_at: unix seconds of the session's last second factor
-- (its login, or a later step-up). Adding a key, new recovery codes and
-- removing the last key need it younger than 5 minutes. Sessions that exist
-- before this migration count as verified when they were created, which is
-- when their login passed its second factor; enroll-only sessions never
-- passed one and stay NULL.
ALTER TABLE sessions ADD COLUMN verified_at BIGINT;
UPDATE sessions SET verified_at = created_at WHERE kind <> 'enroll';

-- recovery_codes.scheme: how code_hash was made. New codes are
-- 'hmac-sha256' (HMAC-SHA-256 under a key derived from the server key, over
-- the user id and the code), so a leaked database alone cannot test guesses.
-- Rows written before this migration are unsalted SHA-256 ('sha256'): they
-- keep working until they are used or the user's set is replaced (by a new
-- set of codes, or by resetting the keys), and nothing new is ever written
-- with that scheme.
ALTER TABLE recovery_codes ADD COLUMN scheme TEXT NOT NULL DEFAULT 'sha256';

-- app_tokens.issued_from: the code or token this token was issued from, so
-- a second use of an OAuth code revokes every token that came from it
-- (RFC 6749 §4.1.2), long-lived tokens exchanged from those included.
ALTER TABLE app_tokens ADD COLUMN issued_from BIGINT;
CREATE INDEX app_tokens_issued_from ON app_tokens(issued_from);
