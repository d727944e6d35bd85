-- The application's login, konstruct_handler: a member of konstruct_app only, so no statement it can issue
-- (not even RESET ROLE) leaves row-level security. Its password is set by the migration step from the
-- application's secret, never here; until then it cannot log in.
DO $$
DECLARE
  other record;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'konstruct_handler') THEN
    CREATE ROLE konstruct_handler LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION INHERIT;
  END IF;
  -- Altered only when it differs: a catalog update on every run would collide with a concurrent one, and
  -- naming SUPERUSER, BYPASSRLS or REPLICATION at all needs a superuser (which RDS's master is not).
  IF EXISTS (
    SELECT FROM pg_roles WHERE rolname = 'konstruct_handler'
      AND (NOT rolcanlogin OR NOT rolinherit OR rolcreatedb OR rolcreaterole)
  ) THEN
    ALTER ROLE konstruct_handler LOGIN INHERIT NOCREATEDB NOCREATEROLE;
  END IF;
  IF EXISTS (
    SELECT FROM pg_roles WHERE rolname = 'konstruct_handler' AND (rolsuper OR rolbypassrls OR rolreplication)
  ) THEN
    ALTER ROLE konstruct_handler NOSUPERUSER NOBYPASSRLS NOREPLICATION;
  END IF;
  IF NOT EXISTS (
    SELECT FROM pg_auth_members m
      WHERE m.member = 'konstruct_handler'::regrole AND m.roleid = 'konstruct_app'::regrole
  ) THEN
    GRANT konstruct_app TO konstruct_handler;
  END IF;
  -- Any other membership (granted by hand, or by an earlier version) would widen what it can reach.
  FOR other IN
    SELECT m.roleid::regrole AS role, m.grantor::regrole AS grantor FROM pg_auth_members m
      WHERE m.member = 'konstruct_handler'::regrole AND m.roleid <> 'konstruct_app'::regrole
  LOOP
    EXECUTE format('REVOKE %s FROM konstruct_handler GRANTED BY %s', other.role, other.grantor);
  END LOOP;
  IF EXISTS (
    SELECT FROM pg_auth_members m
      WHERE m.member = 'konstruct_handler'::regrole AND m.roleid <> 'konstruct_app'::regrole
  ) THEN
    RAISE EXCEPTION 'konstruct_handler is a member of a role other than konstruct_app and it could not be revoked: revoke it as its grantor';
  END IF;
END
$$;
