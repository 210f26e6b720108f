"""Label operations quality: checks on labels and data, drift, gold standards and qualification,
audits, tags/batches/saved filters, dashboards and backups. Headless; state comes from ops."""
