-- Kehu's PostgreSQL roles and database. Idempotent: safe to run any number of times.
--   psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -f scripts/db_roles.sql
--
-- kehu_owner  logs in (DATABASE_URL), owns the schema and runs migrations; CREATEDB so that
--             pytest-django can create the test database.
-- kehu_app    cannot log in; the application switches to it with SET ROLE (DATABASE_APP_ROLE),
--             so it runs as neither superuser nor table owner and row-level security applies.
-- If the environment variable KEHU_OWNER_PASSWORD is set (docker-compose), kehu_owner gets it as
-- its password; otherwise the role has none (trust authentication on a development machine).

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kehu_owner') THEN
        CREATE ROLE kehu_owner;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kehu_app') THEN
        CREATE ROLE kehu_app;
    END IF;
END
$$;

ALTER ROLE kehu_owner LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION;
ALTER ROLE kehu_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- The owner must be a member of the app role to SET ROLE to it.
SELECT 'GRANT kehu_app TO kehu_owner'
WHERE NOT pg_has_role('kehu_owner', 'kehu_app', 'MEMBER')
\gexec

\getenv owner_password KEHU_OWNER_PASSWORD
\if :{?owner_password}
ALTER ROLE kehu_owner PASSWORD :'owner_password';
\endif

-- CREATE DATABASE cannot run inside a DO block; \gexec runs it only when it is missing.
SELECT 'CREATE DATABASE kehu OWNER kehu_owner'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'kehu')
\gexec
