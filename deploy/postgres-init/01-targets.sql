-- The target databases of config/pipeline.example.yml (crm and f500 share the first).
CREATE DATABASE synapse_business_core;
CREATE DATABASE synapse_analytics;
