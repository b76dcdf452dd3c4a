//! Auvik's JSON:API bodies, read leniently: every attribute may be missing or `null` (Auvik
//! sends `null` for fields its spec calls required), and unknown enum values are kept as text.
//! Only what makes a body unusable (no `data` array, a resource without an id) is an error.

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;

/// `{"data": {...}}` or `{"data": null}` inside a relationship.
#[derive(Debug, Default, Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
pub struct Relationship<T> {
    #[serde(default = "none", deserialize_with = "lenient_option")]
    pub data: Option<T>,
}

fn none<T>() -> Option<T> {
    None
}

#[derive(Debug, Deserialize)]
pub struct ResourceRef {
    pub id: String,
}

// ---- /v1/tenants and /v1/tenants/detail ----

#[derive(Debug, Deserialize)]
pub struct TenantsDocument {
    pub data: Vec<TenantResource>,
}

#[derive(Debug, Deserialize)]
pub struct TenantResource {
    pub id: String,
    #[serde(default)]
    pub attributes: TenantAttributes,
    #[serde(default)]
    pub relationships: TenantRelationships,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantAttributes {
    #[serde(default, deserialize_with = "lenient_option")]
    pub domain_prefix: Option<String>,
    #[serde(default, deserialize_with = "lenient_option")]
    pub tenant_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_option")]
    pub display_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TenantRelationships {
    #[serde(default, deserialize_with = "lenient_option")]
    pub parent: Option<Relationship<ResourceRef>>,
}

// ---- /v1/inventory/device/info ----

#[derive(Debug, Deserialize)]
pub struct DevicePage {
    pub data: Vec<DeviceResource>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub included: Vec<IncludedResource>,
    #[serde(default)]
    pub links: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct DeviceResource {
    pub id: String,
    #[serde(default)]
    pub attributes: DeviceAttributes,
    #[serde(default)]
    pub relationships: DeviceRelationships,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceAttributes {
    #[serde(default, deserialize_with = "lenient_option")]
    pub device_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_option")]
    pub device_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_option")]
    pub make_model: Option<String>,
    #[serde(default, deserialize_with = "lenient_option")]
    pub vendor_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_option")]
    pub serial_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_option")]
    pub online_status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRelationships {
    #[serde(default, deserialize_with = "lenient_option")]
    pub tenant: Option<Relationship<ResourceRef>>,
}

#[derive(Debug, Deserialize)]
pub struct IncludedResource {
    #[serde(rename = "type", default, deserialize_with = "lenient_option")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient_option")]
    pub id: Option<String>,
    #[serde(default)]
    pub attributes: IncludedAttributes,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncludedAttributes {
    #[serde(default, deserialize_with = "lenient_option")]
    pub manage_status: Option<bool>,
}

// ---- /v1/billing/usage/client ----

#[derive(Debug, Deserialize)]
pub struct ClientUsageDocument {
    pub data: Vec<ClientUsageResource>,
}

#[derive(Debug, Deserialize)]
pub struct ClientUsageResource {
    pub id: String,
    #[serde(default)]
    pub attributes: ClientUsageAttributes,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientUsageAttributes {
    #[serde(default, deserialize_with = "lenient_option")]
    pub device_usage: Option<DeviceUsage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceUsage {
    #[serde(default, deserialize_with = "lenient_option")]
    pub average_days: Option<f64>,
}

// ---- errors: {"errors": [{"status", "title", "detail"}]} ----

#[derive(Debug, Deserialize)]
pub struct ErrorDocument {
    #[serde(default, deserialize_with = "lenient_vec")]
    pub errors: Vec<ErrorObject>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorObject {
    #[serde(default, deserialize_with = "lenient_option")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "lenient_option")]
    pub detail: Option<String>,
}

/// A value of an unexpected shape reads as absent instead of failing the whole body: a
/// display name that is a number must not cost a client its counts.
fn lenient_option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

fn lenient_vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(lenient_option(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nulls_and_odd_shapes_as_absent() {
        let page: DevicePage = serde_json::from_str(
            r#"{"data":[{"id":"d1","attributes":{"deviceName":null,"deviceType":"quantumRouter","makeModel":7,
                 "onlineStatus":"online"},"relationships":{"tenant":{"data":{"type":"tenant","id":"t1"}}}},
                {"id":"d2"}],
                "included":[{"type":"deviceDetail","id":"d1","attributes":{"manageStatus":true}},{"weird":1}],
                "links":{"next":null}}"#,
        )
        .unwrap();
        assert_eq!(page.data.len(), 2);
        assert_eq!(page.data[0].attributes.device_type.as_deref(), Some("quantumRouter"));
        assert_eq!(page.data[0].attributes.make_model, None);
        assert_eq!(page.data[0].relationships.tenant.as_ref().unwrap().data.as_ref().unwrap().id, "t1");
        assert!(page.data[1].relationships.tenant.is_none());
        assert_eq!(page.included[0].attributes.manage_status, Some(true));
        assert_eq!(page.included[1].id, None);
    }

    #[test]
    fn a_body_without_data_is_an_error() {
        assert!(serde_json::from_str::<DevicePage>(r#"{"links":{}}"#).is_err());
        assert!(serde_json::from_str::<DevicePage>(r#"{"data":null}"#).is_err());
        assert!(serde_json::from_str::<TenantsDocument>(r#"{"data":[{"attributes":{}}]}"#).is_err());
    }

    #[test]
    fn parent_may_be_absent_null_or_empty() {
        let doc: TenantsDocument = serde_json::from_str(
            r#"{"data":[{"id":"a"},{"id":"b","relationships":{"parent":{"data":null}}},
                {"id":"c","relationships":{"parent":{}}},{"id":"d","relationships":{"parent":{"data":{"id":"a"}}}}]}"#,
        )
        .unwrap();
        let parents: Vec<Option<&str>> = doc
            .data
            .iter()
            .map(|t| t.relationships.parent.as_ref().and_then(|p| p.data.as_ref()).map(|r| r.id.as_str()))
            .collect();
        assert_eq!(parents, vec![None, None, None, Some("a")]);
    }
}
