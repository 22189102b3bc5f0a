"""What people read: terminal tables and progress, figures, report.html, model cards."""
