-- GeoSCADA database roles with least privilege. Run as a superuser, connected to the GeoSCADA
-- database (deploy/postgres-setup.sh does: psql -v db=geoscada -d geoscada -f this file).
-- Idempotent: a second run changes nothing.
--
--   geoscada_ingest  the historian: owns the schema (it applies its migrations), writes samples
--   geoscada_read    no login: SELECT on every table, present and future
--   geoscada_query   login, member of geoscada_read: the controller, the UI, geoscada query
--   geoscada_report  login, member of geoscada_read: the regulator's reinjection reports
-- None of them is a superuser or may create roles or databases. Passwords are set by
-- deploy/postgres-setup.sh from files, never here.
\set ON_ERROR_STOP on

SELECT 'CREATE ROLE geoscada_ingest LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'geoscada_ingest') \gexec
SELECT 'CREATE ROLE geoscada_read NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'geoscada_read') \gexec
SELECT 'CREATE ROLE geoscada_query LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION '
       'IN ROLE geoscada_read'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'geoscada_query') \gexec
SELECT 'CREATE ROLE geoscada_report LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION '
       'IN ROLE geoscada_read'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'geoscada_report') \gexec

-- the historian looks at shared_preload_libraries to see whether TimescaleDB is preloaded
GRANT pg_read_all_settings TO geoscada_ingest;

-- only the four roles reach the database; nobody else creates objects in it
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO geoscada_ingest;
GRANT CONNECT ON DATABASE :"db" TO geoscada_read;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO geoscada_ingest;
GRANT USAGE ON SCHEMA public TO geoscada_read;

-- TimescaleDB needs a superuser to create; the historian then uses it as the table owner
SELECT 'CREATE EXTENSION IF NOT EXISTS timescaledb'
 WHERE EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb')
   AND current_setting('shared_preload_libraries') LIKE '%timescaledb%' \gexec

-- what the historian creates, now and later, the readers may read and nothing else
ALTER DEFAULT PRIVILEGES FOR ROLE geoscada_ingest IN SCHEMA public
    GRANT SELECT ON TABLES TO geoscada_read;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO geoscada_read;
