//! The tenant tree: Auvik returns a flat list, the tree comes from `relationships.parent`.
//! Decides which tenants are accounts and how sites fold into customers.

use crate::auvik::model::TenantsDocument;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TenantType {
    #[serde(rename = "client")]
    Client,
    #[serde(rename = "corporateIt")]
    CorporateIt,
    #[serde(rename = "multiClient")]
    MultiClient,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub domain_prefix: String,
    /// `None` for a type Auvik may add later; such a tenant is reported, never counted.
    pub tenant_type: Option<TenantType>,
    pub unknown_type: Option<String>,
    pub parent_id: Option<String>,
}

impl Tenant {
    /// A tenant that owns devices: a client (site) or a stand-alone corporate IT account.
    pub fn is_site(&self) -> bool {
        matches!(self.tenant_type, Some(TenantType::Client | TenantType::CorporateIt))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rollup {
    /// One result per client (site) tenant, at any depth.
    #[default]
    Site,
    /// One result per customer: every tenant below a multi-client that is a direct child of the
    /// root folds into that multi-client; direct client children of the root stay as they are.
    Customer,
}

/// One result of a sync: the account it is reported under and the sites whose devices it sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub account_id: String,
    pub sites: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantTree {
    tenants: Vec<Tenant>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

impl TenantTree {
    pub fn from_document(document: TenantsDocument) -> Result<TenantTree, String> {
        let tenants = document
            .data
            .into_iter()
            .map(|resource| {
                let raw_type = resource.attributes.tenant_type.unwrap_or_default();
                let tenant_type = match raw_type.as_str() {
                    "client" => Some(TenantType::Client),
                    "corporateIt" => Some(TenantType::CorporateIt),
                    "multiClient" => Some(TenantType::MultiClient),
                    _ => None,
                };
                Tenant {
                    domain_prefix: resource.attributes.domain_prefix.unwrap_or_else(|| resource.id.clone()),
                    unknown_type: tenant_type.is_none().then_some(raw_type),
                    tenant_type,
                    parent_id: resource.relationships.parent.and_then(|parent| parent.data).and_then(|parent| parent.id),
                    id: resource.id,
                }
            })
            .collect();
        TenantTree::new(tenants)
    }

    pub fn new(tenants: Vec<Tenant>) -> Result<TenantTree, String> {
        let mut tree = TenantTree { tenants, index: HashMap::new() };
        tree.reindex()?;
        Ok(tree)
    }

    /// Rebuilds the id index (after deserializing) and refuses duplicate ids and parent loops,
    /// either of which would count a site twice or never.
    pub fn reindex(&mut self) -> Result<(), String> {
        self.index = HashMap::with_capacity(self.tenants.len());
        for (position, tenant) in self.tenants.iter().enumerate() {
            if self.index.insert(tenant.id.clone(), position).is_some() {
                return Err(format!("tenant {} is listed twice", tenant.id));
            }
        }
        for tenant in &self.tenants {
            let mut steps = 0;
            let mut current = tenant;
            while let Some(parent) = self.parent(current) {
                steps += 1;
                if steps > self.tenants.len() {
                    return Err(format!("the parents of tenant {} form a loop", tenant.id));
                }
                current = parent;
            }
        }
        Ok(())
    }

    pub fn tenants(&self) -> &[Tenant] {
        &self.tenants
    }

    pub fn get(&self, id: &str) -> Option<&Tenant> {
        self.index.get(id).map(|&position| &self.tenants[position])
    }

    fn parent(&self, tenant: &Tenant) -> Option<&Tenant> {
        tenant.parent_id.as_deref().and_then(|id| self.get(id))
    }

    /// A multi-client with no parent in the list: the MSP itself, never an account.
    pub fn is_msp_root(&self, tenant: &Tenant) -> bool {
        tenant.tenant_type == Some(TenantType::MultiClient) && self.parent(tenant).is_none()
    }

    /// Every tenant the platform can map: clients and corporate IT at any depth, and
    /// multi-clients below the root. In Auvik's order.
    pub fn accounts(&self) -> impl Iterator<Item = &Tenant> {
        self.tenants.iter().filter(|tenant| tenant.tenant_type.is_some() && !self.is_msp_root(tenant))
    }

    /// Tenants of a type this plugin does not know; reported so that nothing vanishes silently.
    pub fn unknown_types(&self) -> impl Iterator<Item = &Tenant> {
        self.tenants.iter().filter(|tenant| tenant.tenant_type.is_none())
    }

    fn is_customer(&self, tenant: &Tenant) -> bool {
        if tenant.tenant_type.is_none() || self.is_msp_root(tenant) {
            return false;
        }
        match self.parent(tenant) {
            None => true,
            Some(parent) => self.is_msp_root(parent),
        }
    }

    fn is_descendant(&self, tenant: &Tenant, ancestor_id: &str) -> bool {
        let mut current = tenant;
        while let Some(parent) = self.parent(current) {
            if parent.id == ancestor_id {
                return true;
            }
            current = parent;
        }
        false
    }

    /// The results a sync reports for `rollup`, in Auvik's order.
    pub fn units(&self, rollup: Rollup) -> Vec<Unit> {
        match rollup {
            Rollup::Site => self
                .tenants
                .iter()
                .filter(|tenant| tenant.is_site())
                .map(|site| Unit { account_id: site.id.clone(), sites: vec![site.id.clone()] })
                .collect(),
            Rollup::Customer => self
                .tenants
                .iter()
                .filter(|tenant| self.is_customer(tenant))
                .map(|customer| {
                    let sites = if customer.is_site() {
                        vec![customer.id.clone()]
                    } else {
                        self.tenants
                            .iter()
                            .filter(|tenant| tenant.is_site() && self.is_descendant(tenant, &customer.id))
                            .map(|site| site.id.clone())
                            .collect()
                    };
                    Unit { account_id: customer.id.clone(), sites }
                })
                .collect(),
        }
    }

    /// Why `id` is not a result under `rollup`, for an `account_ids` entry that names a tenant
    /// of another level.
    pub fn explain_not_a_unit(&self, id: &str, rollup: Rollup) -> Option<String> {
        let tenant = self.get(id)?;
        let customer = self
            .tenants
            .iter()
            .find(|candidate| self.is_customer(candidate) && self.is_descendant(tenant, &candidate.id));
        Some(match (rollup, customer) {
            (_, _) if self.is_msp_root(tenant) => format!("{id} is the MSP's own root tenant, which is not an account"),
            (_, _) if tenant.tenant_type.is_none() => {
                format!("{id} has tenant type {:?}, which this plugin does not count", tenant.unknown_type.as_deref().unwrap_or(""))
            }
            (Rollup::Site, _) => format!(
                "{id} ({}) is a multi-client; with rollup \"site\" ask for its sites, or use rollup \"customer\"",
                tenant.domain_prefix
            ),
            (Rollup::Customer, Some(customer)) => format!(
                "{id} ({}) is folded into customer {} ({}) with rollup \"customer\"; ask for {}, or use rollup \"site\"",
                tenant.domain_prefix, customer.id, customer.domain_prefix, customer.id
            ),
            (Rollup::Customer, None) => format!("{id} is not a customer-level tenant"),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn tenant(id: &str, kind: &str, parent: Option<&str>) -> Tenant {
        let tenant_type = match kind {
            "client" => Some(TenantType::Client),
            "corporateIt" => Some(TenantType::CorporateIt),
            "multiClient" => Some(TenantType::MultiClient),
            _ => None,
        };
        Tenant {
            id: id.into(),
            domain_prefix: format!("{id}-prefix"),
            unknown_type: tenant_type.is_none().then(|| kind.to_string()),
            tenant_type,
            parent_id: parent.map(Into::into),
        }
    }

    /// msp ─┬ a (client)
    ///      ├ g (multi) ─┬ g1 (client)
    ///      │            └ ge (multi) ─ ge1 (client)
    ///      ├ it (corporateIt)
    ///      └ odd (futureType)
    pub fn sample() -> TenantTree {
        TenantTree::new(vec![
            tenant("msp", "multiClient", None),
            tenant("a", "client", Some("msp")),
            tenant("g", "multiClient", Some("msp")),
            tenant("g1", "client", Some("g")),
            tenant("ge", "multiClient", Some("g")),
            tenant("ge1", "client", Some("ge")),
            tenant("it", "corporateIt", Some("msp")),
            tenant("odd", "futureType", Some("msp")),
        ])
        .unwrap()
    }

    fn ids<'a>(tenants: impl Iterator<Item = &'a Tenant>) -> Vec<&'a str> {
        tenants.map(|tenant| tenant.id.as_str()).collect()
    }

    #[test]
    fn accounts_are_every_known_tenant_but_the_msp_root() {
        let tree = sample();
        assert_eq!(ids(tree.accounts()), ["a", "g", "g1", "ge", "ge1", "it"]);
        assert_eq!(ids(tree.unknown_types()), ["odd"]);
    }

    #[test]
    fn site_rollup_lists_every_site_at_any_depth() {
        let units = sample().units(Rollup::Site);
        let accounts: Vec<_> = units.iter().map(|unit| unit.account_id.as_str()).collect();
        assert_eq!(accounts, ["a", "g1", "ge1", "it"]);
        assert!(units.iter().all(|unit| unit.sites == vec![unit.account_id.clone()]));
    }

    #[test]
    fn customer_rollup_folds_nested_sites_into_the_top_multi_client() {
        let units = sample().units(Rollup::Customer);
        assert_eq!(
            units,
            vec![
                Unit { account_id: "a".into(), sites: vec!["a".into()] },
                Unit { account_id: "g".into(), sites: vec!["g1".into(), "ge1".into()] },
                Unit { account_id: "it".into(), sites: vec!["it".into()] },
            ]
        );
    }

    #[test]
    fn a_user_below_the_msp_sees_its_sites_as_roots() {
        let tree = TenantTree::new(vec![tenant("c1", "client", Some("hidden-msp")), tenant("c2", "client", None)]).unwrap();
        assert_eq!(ids(tree.accounts()), ["c1", "c2"]);
        assert_eq!(tree.units(Rollup::Customer).len(), 2);
    }

    #[test]
    fn refuses_loops_and_duplicates() {
        let looped = TenantTree::new(vec![tenant("x", "client", Some("y")), tenant("y", "multiClient", Some("x"))]);
        assert!(looped.unwrap_err().contains("loop"));
        let twice = TenantTree::new(vec![tenant("x", "client", None), tenant("x", "client", None)]);
        assert!(twice.unwrap_err().contains("twice"));
    }

    #[test]
    fn explains_ids_of_the_wrong_level() {
        let tree = sample();
        assert!(tree.explain_not_a_unit("g", Rollup::Site).unwrap().contains("multi-client"));
        assert!(tree.explain_not_a_unit("ge1", Rollup::Customer).unwrap().contains("customer g "));
        assert!(tree.explain_not_a_unit("msp", Rollup::Site).unwrap().contains("root"));
        assert_eq!(tree.explain_not_a_unit("nope", Rollup::Site), None);
    }
}
