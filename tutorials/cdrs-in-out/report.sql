-- The reporting table the tutorial's "reporting" exporter writes one row per rated CDR into.
CREATE TABLE IF NOT EXISTS cdr_report (
    id          bigserial PRIMARY KEY,
    cgrid       text NOT NULL,
    origin_id   text NOT NULL,
    account     text,
    destination text,
    answer_time timestamptz,
    usage_s     numeric,
    cost        numeric(20, 4),
    exported_at timestamptz NOT NULL DEFAULT now()
);
