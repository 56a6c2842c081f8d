"""Tag keys that tie AWS resources to a tenant; the program writes them, the scanner reads them.

A team that builds a tenant by hand must set the same keys for pilotctl to find it.
"""

CUSTOMER = "pilot:customer"            # tenant id, on every tenant resource
STORE = "pilot:store"                  # store name from the spec, on store resources
CLASSIFICATION = "pilot:classification"
RETENTION_DAYS = "pilot:retention-days"
PILOT_END = "pilot:pilot-end"          # YYYY-MM-DD
ROLE = "pilot:role"                    # role name, on IAM roles
PERSON = "pilot:person"                # person id, on IAM users
PURPOSE = "pilot:purpose"              # store, audit, backup, key, access
BACKUP = "pilot:backup"                # "true" on resources the backup selection picks up
