"""core: typed settings from the schema and the config checks, shared file names, atomic writes, job logs,
and the rules' code inputs. Imports the standard library, yaml, jsonschema and numpy only: the Snakefile
imports it while it parses."""
