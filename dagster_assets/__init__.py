"""The Dagster code location: thin assets that read warehouse tables, call python_models and write tables back."""
