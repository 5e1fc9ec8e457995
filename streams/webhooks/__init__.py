"""`rasid webhooks`: signed, retried alert deliveries to subscriptions."""
