-- Two users, each alone in a project, with one row of every tenant table in each project.
-- Run as the schema owner. Ids: users 0..01 (A) and 0..02 (B); project a1 (A's), b1 (B's).
INSERT INTO users (id, email, password_hash) VALUES
  ('00000000-0000-0000-0000-000000000001', 'a@example.com', 'x'),
  ('00000000-0000-0000-0000-000000000002', 'b@example.com', 'x');
INSERT INTO projects (id, name, created_by) VALUES
  ('00000000-0000-0000-0000-0000000000a1', 'A', '00000000-0000-0000-0000-000000000001'),
  ('00000000-0000-0000-0000-0000000000b1', 'B', '00000000-0000-0000-0000-000000000002');
INSERT INTO memberships (project_id, user_id, role) VALUES
  ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-000000000001', 'owner'),
  ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-000000000002', 'owner');
INSERT INTO sessions (user_id, token_hash, expires_at)
SELECT id, sha256(convert_to(id::text, 'UTF8')), now() + interval '1 day' FROM users;
INSERT INTO api_tokens (user_id, name, token_hash, prefix)
SELECT id, 'ci', sha256(convert_to('t' || id::text, 'UTF8')), 'mh_x' FROM users;

DO $$
DECLARE
  p text;
BEGIN
  FOREACH p IN ARRAY ARRAY['a', 'b'] LOOP
    EXECUTE format($f$
      INSERT INTO workflows (id, project_id, name) VALUES
        ('00000000-0000-0000-0000-0000000000%1$s2', '00000000-0000-0000-0000-0000000000%1$s1', 'wf');
      INSERT INTO workflow_versions (id, project_id, workflow_id, version, state, definition) VALUES
        ('00000000-0000-0000-0000-0000000000%1$s3', '00000000-0000-0000-0000-0000000000%1$s1',
         '00000000-0000-0000-0000-0000000000%1$s2', 1, 'published', '{"nodes": [], "edges": []}');
      INSERT INTO webhook_endpoints (id, project_id, workflow_id, public_id) VALUES
        ('00000000-0000-0000-0000-0000000000%1$s4', '00000000-0000-0000-0000-0000000000%1$s1',
         '00000000-0000-0000-0000-0000000000%1$s2', 'public-id-of-project-%1$s-xxxxxxxx');
      INSERT INTO webhook_endpoint_keys (project_id, endpoint_id, algorithm, sealed_key) VALUES
        ('00000000-0000-0000-0000-0000000000%1$s1', '00000000-0000-0000-0000-0000000000%1$s4',
         'hmac', '\x00');
      INSERT INTO runs (id, project_id, workflow_id, version_id, created_at) VALUES
        ('00000000-0000-0000-0000-0000000000%1$s5', '00000000-0000-0000-0000-0000000000%1$s1',
         '00000000-0000-0000-0000-0000000000%1$s2', '00000000-0000-0000-0000-0000000000%1$s3',
         '2026-01-01T00:00:00Z');
      INSERT INTO events (run_id, run_created_at, seq, project_id, type, hash) VALUES
        ('00000000-0000-0000-0000-0000000000%1$s5', '2026-01-01T00:00:00Z', 1,
         '00000000-0000-0000-0000-0000000000%1$s1', 'run_started', sha256('\x00'));
      INSERT INTO blobs (project_id, hash, size_bytes, data) VALUES
        ('00000000-0000-0000-0000-0000000000%1$s1', sha256('\x01'), 1, '\x01');
      INSERT INTO jobs (project_id, run_id, kind) VALUES
        ('00000000-0000-0000-0000-0000000000%1$s1', '00000000-0000-0000-0000-0000000000%1$s5', 'advance');
      INSERT INTO dead_letters (project_id, kind, payload, attempts) VALUES
        ('00000000-0000-0000-0000-0000000000%1$s1', 'advance', '{}', 5);
      INSERT INTO webhook_deliveries (project_id, endpoint_id, method, status, outcome) VALUES
        ('00000000-0000-0000-0000-0000000000%1$s1', '00000000-0000-0000-0000-0000000000%1$s4',
         'POST', 202, 'accepted');
      INSERT INTO idempotency_keys (project_id, endpoint_id, key, run_id, expires_at) VALUES
        ('00000000-0000-0000-0000-0000000000%1$s1', '00000000-0000-0000-0000-0000000000%1$s4',
         'k1', '00000000-0000-0000-0000-0000000000%1$s5', now() + interval '1 day');
      INSERT INTO secrets (project_id, name, kek_id, sealed) VALUES
        ('00000000-0000-0000-0000-0000000000%1$s1', 'TOKEN', 'k1', '\x00');
      INSERT INTO audit_log (project_id, actor, action) VALUES
        ('00000000-0000-0000-0000-0000000000%1$s1', 'seed', 'seeded');
    $f$, p);
  END LOOP;
END
$$;
