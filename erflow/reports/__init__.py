"""Reports over the store (board, aging, sla, workload, billing, funnel), the HTML page and diagrams."""
