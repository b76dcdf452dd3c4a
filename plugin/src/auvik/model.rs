//! Auvik's JSON:API bodies, read leniently: every attribute may be missing or `null` (Auvik
//! sends `null` for fields its spec calls required), and unknown enum values are kept as text.
//! Only what makes a body unusable (no `data` array, a resource without an id) is an error.

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;

/// `{"data": {...}}` or `{"data": null}` inside a relationship.
#[derive(Debug, Default, Deserialize)]
#[serde(bound(deserialize = "T: Lenient<'de>"))]
pub struct Relationship<T> {
    #[serde(default = "none", deserialize_with = "lenient_option")]
    pub data: Option<T>,
}

fn none<T>() -> Option<T> {
    None
}

#[derive(Debug, Default, Deserialize)]
pub struct ResourceRef {
    /// An id of another shape reads as absent, like a missing relationship.
    #[serde(default, deserialize_with = "lenient_option")]
    pub id: Option<String>,
}

// ---- /v1/tenants and /v1/tenants/detail ----

#[derive(Debug)]
pub struct TenantsDocument {
    pub data: Vec<TenantResource>,
}

impl<'de> Deserialize<'de> for TenantsDocument {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Fields {
            #[serde(deserialize_with = "resources")]
            data: Vec<TenantResource>,
        }
        let Object(Fields { data }) = Object::deserialize(deserializer)?;
        Ok(TenantsDocument { data })
    }
}

#[derive(Debug, Deserialize)]
pub struct TenantResource {
    pub id: String,
    #[serde(default, deserialize_with = "lenient_default")]
    pub attributes: TenantAttributes,
    #[serde(default, deserialize_with = "lenient_default")]
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

#[derive(Debug)]
pub struct DevicePage {
    pub data: Vec<DeviceResource>,
    pub included: Vec<IncludedResource>,
    pub links: Option<serde_json::Value>,
}

impl<'de> Deserialize<'de> for DevicePage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Fields {
            #[serde(deserialize_with = "resources")]
            data: Vec<DeviceResource>,
            #[serde(default, deserialize_with = "lenient_items")]
            included: Vec<IncludedResource>,
            #[serde(default)]
            links: Option<serde_json::Value>,
        }
        let Object(Fields { data, included, links }) = Object::deserialize(deserializer)?;
        Ok(DevicePage { data, included, links })
    }
}

#[derive(Debug, Deserialize)]
pub struct DeviceResource {
    pub id: String,
    #[serde(default, deserialize_with = "lenient_default")]
    pub attributes: DeviceAttributes,
    #[serde(default, deserialize_with = "lenient_default")]
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
    #[serde(default, deserialize_with = "lenient_default")]
    pub attributes: IncludedAttributes,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncludedAttributes {
    #[serde(default, deserialize_with = "lenient_option")]
    pub manage_status: Option<bool>,
}

// ---- /v1/billing/usage/client ----

#[derive(Debug)]
pub struct ClientUsageDocument {
    pub data: Vec<ClientUsageResource>,
}

impl<'de> Deserialize<'de> for ClientUsageDocument {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Fields {
            #[serde(deserialize_with = "resources")]
            data: Vec<ClientUsageResource>,
        }
        let Object(Fields { data }) = Object::deserialize(deserializer)?;
        Ok(ClientUsageDocument { data })
    }
}

#[derive(Debug, Deserialize)]
pub struct ClientUsageResource {
    pub id: String,
    #[serde(default, deserialize_with = "lenient_default")]
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
    #[serde(default, deserialize_with = "lenient_items")]
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
/// display name that is a number must not cost a client its counts. Read straight from the
/// parser, without building a `serde_json::Value` per field: a sync reads 100,000 devices.
fn lenient_option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Lenient<'de>,
{
    deserializer.deserialize_any(LenientVisitor(PhantomData))
}

/// `attributes` or `relationships` that are `null` or not an object read as empty: a
/// resource's id is all a body needs to be usable.
fn lenient_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Lenient<'de> + Default,
{
    Ok(lenient_option(deserializer)?.unwrap_or_default())
}

/// A list whose objects are read each on its own: one odd `included` entry must not take the
/// manage status of every other device on the page with it.
fn lenient_items<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Lenient<'de>,
{
    struct Items<T>(PhantomData<T>);
    impl<'de, T: Lenient<'de>> Visitor<'de> for Items<T> {
        type Value = Vec<T>;
        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a list")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(LenientSlot(item)) = seq.next_element::<LenientSlot<T>>()? {
                items.extend(item);
            }
            Ok(items)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
            IgnoredAny.visit_map(map).map(|_| Vec::new())
        }
        fn visit_unit<E>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_bool<E>(self, _: bool) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_str<E>(self, _: &str) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
    }
    deserializer.deserialize_any(Items(PhantomData))
}

/// One element of a lenient list: `None` when it is not of the expected shape.
struct LenientSlot<T>(Option<T>);

impl<'de, T: Lenient<'de>> Deserialize<'de> for LenientSlot<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        lenient_option(deserializer).map(LenientSlot)
    }
}

/// What a lenient field can be: the shape it accepts, everything else reading as absent.
/// Objects are read field by field with fields that are themselves lenient, so reading one
/// never fails halfway through.
trait Lenient<'de>: Sized {
    fn from_str(_: &str) -> Option<Self> {
        None
    }
    fn from_bool(_: bool) -> Option<Self> {
        None
    }
    fn from_f64(_: f64) -> Option<Self> {
        None
    }
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        IgnoredAny.visit_map(map).map(|_| None)
    }
}

impl Lenient<'_> for String {
    fn from_str(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

impl Lenient<'_> for bool {
    fn from_bool(value: bool) -> Option<Self> {
        Some(value)
    }
}

impl Lenient<'_> for f64 {
    fn from_f64(value: f64) -> Option<Self> {
        Some(value)
    }
}

macro_rules! lenient_object {
    ($($object:ty),* $(,)?) => {$(
        impl<'de> Lenient<'de> for $object {
            fn from_map<A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
                <$object>::deserialize(MapAccessDeserializer::new(map)).map(Some)
            }
        }
    )*};
}

lenient_object!(
    TenantAttributes,
    TenantRelationships,
    DeviceAttributes,
    DeviceRelationships,
    IncludedResource,
    IncludedAttributes,
    ClientUsageAttributes,
    DeviceUsage,
    ResourceRef,
    Relationship<ResourceRef>,
    ErrorObject,
);

struct LenientVisitor<T>(PhantomData<T>);

impl<'de, T: Lenient<'de>> Visitor<'de> for LenientVisitor<T> {
    type Value = Option<T>;
    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }
    fn visit_str<E>(self, text: &str) -> Result<Option<T>, E> {
        Ok(T::from_str(text))
    }
    fn visit_bool<E>(self, value: bool) -> Result<Option<T>, E> {
        Ok(T::from_bool(value))
    }
    fn visit_f64<E>(self, value: f64) -> Result<Option<T>, E> {
        Ok(T::from_f64(value))
    }
    fn visit_i64<E>(self, value: i64) -> Result<Option<T>, E> {
        Ok(T::from_f64(value as f64))
    }
    fn visit_u64<E>(self, value: u64) -> Result<Option<T>, E> {
        Ok(T::from_f64(value as f64))
    }
    fn visit_unit<E>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        deserializer.deserialize_any(self)
    }
    /// No field read this way is a list, so an array is always an odd shape (serde would read
    /// a struct from it by position).
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<T>, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<T>, A::Error> {
        T::from_map(map)
    }
}

/// The resources of `data`, each of which must be an object (as must the document): read from
/// an array by position, `["x"]` would be a device with id "x" that Auvik never listed.
fn resources<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Vec::<Object<T>>::deserialize(deserializer)?.into_iter().map(|Object(resource)| resource).collect())
}

struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a resource object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Object)
            }
        }
        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
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
        assert_eq!(page.data[0].relationships.tenant.as_ref().unwrap().data.as_ref().unwrap().id.as_deref(), Some("t1"));
        assert!(page.data[1].relationships.tenant.is_none());
        assert_eq!(page.included[0].attributes.manage_status, Some(true));
        assert_eq!(page.included[1].id, None);
    }

    #[test]
    fn odd_attributes_relationships_or_included_entries_cost_nothing_else() {
        let page: DevicePage = serde_json::from_str(
            r#"{"data":[{"id":"d1","attributes":null,"relationships":null},{"id":"d2","attributes":[],"relationships":5},
                 {"id":"d3","attributes":{"deviceType":"router"},"relationships":{"tenant":{"data":{"id":"t1"}}}}],
                "included":["junk",{"type":"deviceDetail","id":"d1","attributes":null},
                 {"type":"deviceDetail","id":"d3","attributes":{"manageStatus":true}}]}"#,
        )
        .unwrap();
        assert_eq!(page.data.len(), 3);
        assert_eq!(page.data[0].attributes.device_type, None);
        assert!(page.data[1].relationships.tenant.is_none());
        assert_eq!(page.data[2].attributes.device_type.as_deref(), Some("router"));
        let ids: Vec<_> = page.included.iter().map(|entry| (entry.id.as_deref(), entry.attributes.manage_status)).collect();
        assert_eq!(ids, vec![(Some("d1"), None), (Some("d3"), Some(true))]);
        let tenants: TenantsDocument = serde_json::from_str(r#"{"data":[{"id":"a","attributes":null,"relationships":"x"}]}"#).unwrap();
        assert_eq!(tenants.data[0].attributes.tenant_type, None);
        let usage: ClientUsageDocument = serde_json::from_str(r#"{"data":[{"id":"a","attributes":null}]}"#).unwrap();
        assert!(usage.data[0].attributes.device_usage.is_none());
    }

    #[test]
    fn arrays_are_never_read_as_objects_by_position() {
        for body in [r#"{"data":[["d1"]]}"#, r#"{"data":[{"id":"d1"},[""]]}"#] {
            let error = serde_json::from_str::<DevicePage>(body).unwrap_err().to_string();
            assert!(error.contains("expected a resource object"), "{error}");
        }
        assert!(serde_json::from_str::<TenantsDocument>(r#"{"data":[["t1"]]}"#).is_err());
        for body in [r#"[[]]"#, r#"[[{"id":"d1"}],[],null]"#] {
            assert!(serde_json::from_str::<DevicePage>(body).is_err(), "{body}");
            assert!(serde_json::from_str::<TenantsDocument>(body).is_err(), "{body}");
            assert!(serde_json::from_str::<ClientUsageDocument>(body).is_err(), "{body}");
        }
        assert!(serde_json::from_str::<DevicePage>(r#"{"links":{}}"#).unwrap_err().to_string().contains("missing field `data`"));
        let page: DevicePage = serde_json::from_str(
            r#"{"data":[{"id":"d1","attributes":[null,"router"],"relationships":{"tenant":[{"data":{"id":"t1"}}]}},
                        {"id":"d2","relationships":{"tenant":{"data":["t2"]}}}],
                "included":[["deviceDetail","d1",{"manageStatus":true}]]}"#,
        )
        .unwrap();
        assert_eq!(page.data[0].attributes.device_type, None);
        assert!(page.data[0].relationships.tenant.is_none());
        assert!(page.data[1].relationships.tenant.as_ref().unwrap().data.is_none());
        assert!(page.included.is_empty());
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
            .map(|t| t.relationships.parent.as_ref().and_then(|p| p.data.as_ref()).and_then(|r| r.id.as_deref()))
            .collect();
        assert_eq!(parents, vec![None, None, None, Some("a")]);
    }
}
