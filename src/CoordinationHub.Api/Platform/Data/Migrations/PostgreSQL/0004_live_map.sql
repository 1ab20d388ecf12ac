-- Holders by law are dated: a CCAS holds its competences from its creation to its dissolution.
ALTER TABLE organisation ADD COLUMN active_from date NULL, ADD COLUMN active_until date NULL;

-- The competence map's change feed: every change of generation G lists what it touched, in order,
-- so that each process applies the same deltas instead of reloading the whole map.
-- kind SEGMENTS: the periods of (commune_id, competence_code) as JSON (an empty array: none);
-- kind ORGANISATION: the organisation_id's row as the map sees it (JSON); kind RELOAD: load everything;
-- kind BEGIN: the first row of every generation, so that the feed has no gap.
CREATE TABLE map_change (
    generation      bigint       NOT NULL,
    seq             integer      NOT NULL,
    kind            varchar(16)  NOT NULL,
    commune_id      uuid         NULL,
    competence_code varchar(32)  NULL,
    organisation_id uuid         NULL,
    data            text         NULL,
    recorded_at     timestamptz  NOT NULL,
    PRIMARY KEY (generation, seq)
);
CREATE INDEX ix_map_change_recorded_at ON map_change (recorded_at);
