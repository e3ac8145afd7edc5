-- JWT endpoint keys may pin PS256, ES384, ES512 and EdDSA too (docs/webhooks.md). Keys given as
-- a JWK or a JWKS document are stored like PEM keys: the public key as PEM, the algorithm and
-- the kid in their columns.
ALTER TABLE webhook_endpoint_keys DROP CONSTRAINT webhook_endpoint_keys_algorithm_check;
ALTER TABLE webhook_endpoint_keys ADD CONSTRAINT webhook_endpoint_keys_algorithm_check
    CHECK (algorithm IN ('hmac', 'hs256', 'rs256', 'ps256', 'es256', 'es384', 'es512', 'eddsa'));
