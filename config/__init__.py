"""Settings (defaults in YAML < TINGJIAN_* environment < command-line flags) and
the business tables of SPEC §4-6 (taxonomy, routing, SLA, holidays) as YAML."""

from config.business import BusinessRules, load_business_rules
from config.settings import ConfigError, Settings, load_settings

__all__ = ["BusinessRules", "ConfigError", "Settings", "load_business_rules", "load_settings"]
