-- A pre-created target table for epic7's crm_contacts (domain crm, database
-- synapse_business_core), stricter than the sink would create it: bounded VARCHARs, an
-- exact NUMERIC(10,2) for money, CHECK constraints. The sink uses it because its primary
-- key is the source key (contact_id) and adds its own _cdc_ columns (_cdc_source,
-- _cdc_epoch, _cdc_pos, _cdc_synced_at). A source value that does not fit (a name longer
-- than 40 characters, a value of 100,000,000.00 or more, a lead score outside 0..100, an
-- unknown tier) is a dead letter naming the table, key and reason; the row's other
-- versions and the rest of the partition are applied. Used by
-- tests/integration/sink_e2e_poison.test.sh.
CREATE TABLE crm_contacts (
    contact_id varchar(32) PRIMARY KEY,
    first_name varchar(40) NOT NULL,
    last_name varchar(100) NOT NULL,
    email varchar(255) NOT NULL,
    phone varchar(32),
    company varchar(200) NOT NULL,
    title varchar(200),
    industry text,
    company_size text,
    linkedin_url text,
    lead_source text NOT NULL,
    priority_tier text NOT NULL
        CONSTRAINT crm_contacts_priority_tier_check
        CHECK (priority_tier IN ('platinum', 'gold', 'silver', 'bronze')),
    lead_score integer NOT NULL
        CONSTRAINT crm_contacts_lead_score_check CHECK (lead_score BETWEEN 0 AND 100),
    qualification_status text NOT NULL,
    is_decision_maker boolean NOT NULL,
    estimated_value numeric(10, 2) NOT NULL
        CONSTRAINT crm_contacts_estimated_value_check CHECK (estimated_value >= 0),
    tags jsonb,
    notes text,
    last_contact_date date,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
