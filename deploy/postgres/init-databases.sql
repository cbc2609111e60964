-- One database per deployable: a service never reads another's (README "Architecture").
-- Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d), as
-- POSTGRES_USER, who owns them. Each process then runs `<service> migrate` against its own database.
-- In production prefer one role per service (CREATE ROLE applicant LOGIN ...; ALTER DATABASE applicant
-- OWNER TO applicant) and give each service only its own credentials; passwords never go in this file.
CREATE DATABASE applicant;
CREATE DATABASE benefits;
CREATE DATABASE housing;
CREATE DATABASE notify;
CREATE DATABASE insight;
CREATE DATABASE gateway;
