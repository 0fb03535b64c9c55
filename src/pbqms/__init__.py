"""pbqms — Party-Building Quality Management System (党建质量管理体系平台)."""
