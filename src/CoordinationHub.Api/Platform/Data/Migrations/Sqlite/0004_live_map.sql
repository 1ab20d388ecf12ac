-- Holders by law are dated: a CCAS holds its competences from its creation to its dissolution.
ALTER TABLE organisation ADD COLUMN active_from TEXT NULL;
ALTER TABLE organisation ADD COLUMN active_until TEXT NULL;

-- The competence map's change feed: every change of generation G lists what it touched, in order,
-- so that each process applies the same deltas instead of reloading the whole map.
-- kind SEGMENTS: the periods of (commune_id, competence_code) as JSON (an empty array: none);
-- kind ORGANISATION: the organisation_id's row as the map sees it (JSON); kind RELOAD: load everything;
-- kind BEGIN: the first row of every generation, so that the feed has no gap.
CREATE TABLE map_change (
    generation      INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    commune_id      TEXT    NULL,
    competence_code TEXT    NULL,
    organisation_id TEXT    NULL,
    data            TEXT    NULL,
    recorded_at     TEXT    NOT NULL,
    PRIMARY KEY (generation, seq)
);
CREATE INDEX ix_map_change_recorded_at ON map_change (recorded_at);
