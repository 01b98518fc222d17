//! Deployment environment and node mode.

use std::fmt;

use crate::parse::{Result, invalid};

/// `APP_ENV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppEnv {
    #[default]
    Development,
    Staging,
    Production,
}

impl AppEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }

    pub(crate) fn parse(var: &str, raw: &str) -> Result<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "dev" | "development" | "local" | "test" => Ok(Self::Development),
            "staging" | "stage" => Ok(Self::Staging),
            "prod" | "production" => Ok(Self::Production),
            _ => Err(invalid(
                var,
                format!("{raw:?} is not an environment (use development, staging or production)"),
            )),
        }
    }
}

impl fmt::Display for AppEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `ESSP_MODE`: a central node or a school edge node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Central,
    Edge,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Central => "central",
            Self::Edge => "edge",
        }
    }

    pub(crate) fn parse(var: &str, raw: &str) -> Result<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "central" => Ok(Self::Central),
            "edge" => Ok(Self::Edge),
            _ => Err(invalid(var, format!("{raw:?} is not a mode (use central or edge)"))),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
