"""What people read, drawn from plain data: terminal tables and progress, figures, model cards."""
