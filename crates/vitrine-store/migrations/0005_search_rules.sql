-- Every version of the search rules that was in force: who or what put it there, when, and the whole text,
-- so a merchandiser can see what changed and put an earlier version back.

CREATE TABLE search_rules_versions (
    version     INTEGER PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    actor       TEXT NOT NULL,      -- who: a person's name through the API, `file` for an edit on disk
    source      TEXT NOT NULL,      -- api | rollback | file | startup
    note        TEXT,               -- e.g. "rolled back to version 3"
    text        TEXT NOT NULL       -- the whole rules file (TOML)
);
