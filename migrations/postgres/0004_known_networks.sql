-- The networks (an IPv4 address, an IPv6 /64 by default) each user signed in
-- from with the right password. While a guessing storm has used up the
-- failed-password budget of the minute, only a user's own networks still get
-- their password checked, so the storm cannot lock them out. Rows not seen
-- for 90 days are purged.
CREATE TABLE known_networks (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    network TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, network)
);
