//! Our casbin adapter: it serves the policy stored in our own tables (roles, access_rules,
//! role_assignments, group members, read through `access::store`). Writes never go through
//! casbin: they are journaled by the access service, which then updates the enforcer
//! incrementally, so the adapter's write methods have nothing to do.

use std::sync::Arc;

use async_trait::async_trait;
use casbin::{Adapter, Filter, Model, Result};

use super::policy::Policy;

/// Feeds casbin the lines of a policy loaded from our tables.
pub struct TableAdapter {
    policy: Arc<Policy>,
}

impl TableAdapter {
    pub fn new(policy: Arc<Policy>) -> Self {
        Self { policy }
    }
}

#[async_trait]
impl Adapter for TableAdapter {
    async fn load_policy(&mut self, model: &mut dyn Model) -> Result<()> {
        for (section, rule) in self.policy.casbin_lines() {
            if let Some(assertion) = model
                .get_mut_model()
                .get_mut(section)
                .and_then(|sec| sec.get_mut(section))
            {
                assertion.get_mut_policy().insert(rule);
            }
        }
        Ok(())
    }

    async fn load_filtered_policy<'a>(
        &mut self,
        model: &mut dyn Model,
        _filter: Filter<'a>,
    ) -> Result<()> {
        self.load_policy(model).await
    }

    async fn save_policy(&mut self, _model: &mut dyn Model) -> Result<()> {
        Ok(())
    }

    async fn clear_policy(&mut self) -> Result<()> {
        Ok(())
    }

    fn is_filtered(&self) -> bool {
        false
    }

    async fn add_policy(&mut self, _sec: &str, _ptype: &str, _rule: Vec<String>) -> Result<bool> {
        Ok(true)
    }

    async fn add_policies(
        &mut self,
        _sec: &str,
        _ptype: &str,
        _rules: Vec<Vec<String>>,
    ) -> Result<bool> {
        Ok(true)
    }

    async fn remove_policy(
        &mut self,
        _sec: &str,
        _ptype: &str,
        _rule: Vec<String>,
    ) -> Result<bool> {
        Ok(true)
    }

    async fn remove_policies(
        &mut self,
        _sec: &str,
        _ptype: &str,
        _rules: Vec<Vec<String>>,
    ) -> Result<bool> {
        Ok(true)
    }

    async fn remove_filtered_policy(
        &mut self,
        _sec: &str,
        _ptype: &str,
        _field_index: usize,
        _field_values: Vec<String>,
    ) -> Result<bool> {
        Ok(true)
    }
}
