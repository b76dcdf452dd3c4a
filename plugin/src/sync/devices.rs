//! One device page: attribute each device to its site, classify it, and find the next cursor.

use super::io::DeviceRecord;
use crate::auvik::model::DevicePage;
use crate::auvik::pagination::{next_cursor, Next};
use crate::counting::{classify, Outcome, Tally};
use crate::error::{ErrorCode, PluginError};
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

pub const DEVICE_INFO_PATH: &str = "/v1/inventory/device/info";
/// Auvik's v1 maximum is not documented; 1,000 is what its public clients use without trouble.
pub const PAGE_SIZE: &str = "1000";
/// A page of nothing that still points onward, this many times in a row, is a loop.
const MAX_EMPTY_PAGES_IN_A_ROW: u32 = 3;

/// The devices of one request's sites, read page by page. Counts only, plus the records when
/// the caller asked for them.
#[derive(Debug, Default)]
pub struct BatchRead {
    pub sites: Vec<String>,
    pub after: Option<String>,
    seen_cursors: HashSet<String>,
    /// Ids are hashed: a double-listed device must count once, and 8 bytes a device keep
    /// memory small at 100,000 devices.
    seen_devices: HashSet<u64>,
    empty_pages_in_a_row: u32,
    pub tallies: Vec<Tally>,
    pub records: Vec<Vec<DeviceRecord>>,
    pub devices_seen: u64,
    pub duplicates_skipped: u64,
    pub outside_request: u64,
}

impl BatchRead {
    pub fn new(sites: Vec<String>) -> BatchRead {
        let count = sites.len();
        BatchRead { sites, tallies: vec![Tally::default(); count], records: vec![Vec::new(); count], ..BatchRead::default() }
    }

    pub fn query(&self) -> String {
        let tenants = self.sites.join(",");
        let mut params = vec![
            ("tenants", tenants.as_str()),
            ("include", "deviceDetail"),
            ("fields[deviceDetail]", "manageStatus"),
            ("page[first]", PAGE_SIZE),
        ];
        if let Some(after) = &self.after {
            params.push(("page[after]", after));
        }
        crate::auvik::url::with_query(DEVICE_INFO_PATH, &params)
    }

    /// Takes in one page. `Ok(true)` when it was the last.
    pub fn absorb(&mut self, page: DevicePage, base_url: &str, keep_records: bool) -> Result<bool, PluginError> {
        let malformed = |why: String| PluginError::new(ErrorCode::MalformedResponse, why);
        let managed: HashMap<&str, Option<bool>> = page
            .included
            .iter()
            .filter(|resource| resource.kind.as_deref() == Some("deviceDetail"))
            .filter_map(|resource| Some((resource.id.as_deref()?, resource.attributes.manage_status)))
            .collect();
        let site_positions: HashMap<&str, usize> =
            self.sites.iter().enumerate().map(|(position, site)| (site.as_str(), position)).collect();
        for device in &page.data {
            let tenant = device.relationships.tenant.as_ref().and_then(|tenant| tenant.data.as_ref()).map(|tenant| tenant.id.as_str());
            let position = match (tenant, self.sites.len()) {
                (Some(tenant), _) => match site_positions.get(tenant) {
                    Some(&position) => position,
                    None => {
                        self.outside_request += 1;
                        continue;
                    }
                },
                (None, 1) => 0,
                (None, _) => return Err(malformed(format!("device {} names no tenant, so it cannot be attributed", device.id))),
            };
            if !self.seen_devices.insert(hash_id(&device.id)) {
                self.duplicates_skipped += 1;
                continue;
            }
            let attributes = &device.attributes;
            let manage_status = managed.get(device.id.as_str()).copied().flatten();
            let outcome = classify(attributes.online_status.as_deref(), manage_status, attributes.device_type.as_deref());
            self.tallies[position].add(outcome);
            self.devices_seen += 1;
            if keep_records {
                let (counted_toward, excluded) = match outcome {
                    Outcome::Counted(class) => (class.services().iter().map(|s| s.to_string()).collect(), None),
                    Outcome::Excluded(reason) => (Vec::new(), Some(reason)),
                };
                self.records[position].push(DeviceRecord {
                    id: device.id.clone(),
                    site_id: self.sites[position].clone(),
                    name: attributes.device_name.clone(),
                    device_type: attributes.device_type.clone(),
                    make_model: attributes.make_model.clone(),
                    vendor_name: attributes.vendor_name.clone(),
                    serial_number: attributes.serial_number.clone(),
                    online_status: attributes.online_status.clone(),
                    managed: manage_status,
                    counted_toward,
                    excluded,
                });
            }
        }
        self.empty_pages_in_a_row = if page.data.is_empty() { self.empty_pages_in_a_row + 1 } else { 0 };
        match next_cursor(page.links.as_ref(), base_url).map_err(|why| malformed(format!("device paging stopped: {why}")))? {
            Next::End => Ok(true),
            Next::After(cursor) => {
                if self.empty_pages_in_a_row >= MAX_EMPTY_PAGES_IN_A_ROW {
                    return Err(malformed(format!(
                        "device paging stopped: {MAX_EMPTY_PAGES_IN_A_ROW} empty pages in a row still point to a next page"
                    )));
                }
                if !self.seen_cursors.insert(cursor.clone()) {
                    return Err(malformed(format!("device paging stopped: Auvik repeated the cursor {}", short(&cursor))));
                }
                self.after = Some(cursor);
                Ok(false)
            }
        }
    }
}

fn hash_id(id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

fn short(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BASE: &str = "https://auvikapi.us1.my.auvik.com";

    fn device(id: &str, tenant: Option<&str>, device_type: &str, online: &str) -> serde_json::Value {
        let mut device = json!({"type": "device", "id": id, "attributes": {"deviceType": device_type, "onlineStatus": online, "deviceName": id}});
        if let Some(tenant) = tenant {
            device["relationships"] = json!({"tenant": {"data": {"type": "tenant", "id": tenant}}});
        }
        device
    }

    fn page(devices: Vec<serde_json::Value>, managed: &[(&str, bool)], next: Option<&str>) -> DevicePage {
        let included: Vec<_> = managed
            .iter()
            .map(|(id, managed)| json!({"type": "deviceDetail", "id": id, "attributes": {"manageStatus": managed}}))
            .collect();
        serde_json::from_value(json!({"data": devices, "included": included, "links": {"next": next}})).unwrap()
    }

    #[test]
    fn attributes_devices_to_their_site_and_follows_the_cursor() {
        let mut batch = BatchRead::new(vec!["t1".into(), "t2".into()]);
        let next = format!("{BASE}/v1/inventory/device/info?page%5Bafter%5D=c1");
        let first = page(
            vec![device("d1", Some("t1"), "router", "online"), device("d2", Some("t2"), "switch", "online")],
            &[("d1", true), ("d2", true)],
            Some(&next),
        );
        assert_eq!(batch.absorb(first, BASE, true), Ok(false));
        assert_eq!(batch.after.as_deref(), Some("c1"));
        assert!(batch.query().ends_with("&page%5Bafter%5D=c1"), "{}", batch.query());
        let last = page(vec![device("d3", Some("t2"), "firewall", "offline"), device("d9", Some("zz"), "router", "online")], &[], None);
        assert_eq!(batch.absorb(last, BASE, true), Ok(true));
        assert_eq!(batch.tallies[0].counts().routers, 1);
        assert_eq!(batch.tallies[1].counts().total_switches, 1);
        assert_eq!(batch.tallies[1].excluded().offline, 1);
        assert_eq!((batch.devices_seen, batch.outside_request), (3, 1));
        assert_eq!(batch.records[1][0].counted_toward, vec!["total_billable_devices", "total_switches"]);
    }

    #[test]
    fn a_device_listed_twice_counts_once() {
        let mut batch = BatchRead::new(vec!["t1".into()]);
        let twice = page(vec![device("d1", None, "router", "online"), device("d1", None, "router", "online")], &[("d1", true)], None);
        batch.absorb(twice, BASE, false).unwrap();
        assert_eq!((batch.tallies[0].counts().routers, batch.duplicates_skipped), (1, 1));
        assert!(batch.records[0].is_empty());
    }

    #[test]
    fn untrustworthy_paging_is_malformed() {
        let next = format!("{BASE}/v1/x?page[after]=same");
        let mut batch = BatchRead::new(vec!["t1".into()]);
        batch.absorb(page(vec![device("a", None, "router", "online")], &[], Some(&next)), BASE, false).unwrap();
        let error = batch.absorb(page(vec![device("b", None, "router", "online")], &[], Some(&next)), BASE, false).unwrap_err();
        assert!(error.message.contains("repeated the cursor"), "{}", error.message);

        let mut batch = BatchRead::new(vec!["t1".into()]);
        let elsewhere = page(vec![], &[], Some("https://evil.example/v1/x?page[after]=c"));
        assert_eq!(batch.absorb(elsewhere, BASE, false).unwrap_err().code, ErrorCode::MalformedResponse);

        let mut batch = BatchRead::new(vec!["t1".into()]);
        let results: Vec<_> = (0..3)
            .map(|n| batch.absorb(page(vec![], &[], Some(&format!("{BASE}/v1/x?page[after]=c{n}"))), BASE, false))
            .collect();
        assert!(results[2].as_ref().unwrap_err().message.contains("empty pages"), "{results:?}");

        let mut batch = BatchRead::new(vec!["t1".into(), "t2".into()]);
        let anonymous = page(vec![device("a", None, "router", "online")], &[], None);
        assert!(batch.absorb(anonymous, BASE, false).unwrap_err().message.contains("names no tenant"));
    }
}
