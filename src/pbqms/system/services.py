"""Write rules and read helpers of the quality-system area (views and API call these)."""
