//! One device page: attribute each device to its site, classify it, and find the next cursor.
//! Between pages the read is a plain value, so a resume token can carry it.

use super::io::DeviceRecord;
use crate::auvik::model::DevicePage;
use crate::auvik::pagination::{next_cursor, Next};
use crate::counting::{classify, Outcome, Tally};
use crate::error::{ErrorCode, PluginError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};

pub const DEVICE_INFO_PATH: &str = "/v1/inventory/device/info";
/// Auvik's v1 maximum is not documented; 1,000 is what its public clients use without trouble.
pub const PAGE_SIZE: &str = "1000";
/// A page of nothing that still points onward, this many times in a row, is a loop.
const MAX_EMPTY_PAGES_IN_A_ROW: u32 = 3;

/// The devices of one request's sites, read page by page: counts only. The device records a
/// caller may ask for are handed out per page and never kept here.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct BatchRead {
    pub sites: Vec<String>,
    pub after: Option<String>,
    seen_cursors: Vec<String>,
    /// Hashes of the ids counted so far in this read: a device Auvik lists on two pages (its
    /// paging shifts when devices come and go) counts once, also across calls. Ids themselves
    /// are never kept; sorted, so a token is the same in every host.
    #[serde(default)]
    seen_devices: BTreeSet<u64>,
    empty_pages_in_a_row: u32,
    pub tallies: Vec<Tally>,
    /// Failed attempts of the next request, so a retry survives a stop between calls.
    pub attempts: u32,
}

/// What one page added, besides the tallies.
#[derive(Debug, Default)]
pub struct PageRead {
    pub last: bool,
    pub devices: u64,
    pub duplicates_skipped: u64,
    pub outside_request: u64,
    /// `(position of the site in the batch, record)`, when records were asked for.
    pub records: Vec<(usize, DeviceRecord)>,
}

impl BatchRead {
    pub fn new(sites: Vec<String>) -> BatchRead {
        let count = sites.len();
        BatchRead { sites, tallies: vec![Tally::default(); count], ..BatchRead::default() }
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

    /// Takes in one page. Nothing is changed when the page is refused, so the batch can be
    /// split and read again without counting anything twice.
    pub fn absorb(&mut self, page: &DevicePage, base_url: &str, keep_records: bool) -> Result<PageRead, PluginError> {
        let malformed = |why: String| PluginError::new(ErrorCode::MalformedResponse, why);
        let next = next_cursor(page.links.as_ref(), base_url).map_err(|why| malformed(format!("device paging stopped: {why}")))?;
        let empty_pages_in_a_row = if page.data.is_empty() { self.empty_pages_in_a_row + 1 } else { 0 };
        if let Next::After(cursor) = &next {
            if empty_pages_in_a_row >= MAX_EMPTY_PAGES_IN_A_ROW {
                return Err(malformed(format!(
                    "device paging stopped: {MAX_EMPTY_PAGES_IN_A_ROW} empty pages in a row still point to a next page"
                )));
            }
            if self.seen_cursors.contains(cursor) {
                return Err(malformed(format!("device paging stopped: Auvik repeated the cursor {}", short(cursor))));
            }
        }

        let managed: HashMap<&str, Option<bool>> = page
            .included
            .iter()
            .filter(|resource| resource.kind.as_deref() == Some("deviceDetail"))
            .filter_map(|resource| Some((resource.id.as_deref()?, resource.attributes.manage_status)))
            .collect();
        let site_positions: HashMap<&str, usize> =
            self.sites.iter().enumerate().map(|(position, site)| (site.as_str(), position)).collect();
        let mut read = PageRead::default();
        let mut outcomes = Vec::with_capacity(page.data.len());
        let mut seen_on_page = HashSet::with_capacity(page.data.len());
        for device in &page.data {
            let tenant = device.relationships.tenant.as_ref().and_then(|tenant| tenant.data.as_ref()).and_then(|tenant| tenant.id.as_deref());
            let position = match (tenant, self.sites.len()) {
                (Some(tenant), _) => match site_positions.get(tenant) {
                    Some(&position) => position,
                    None => {
                        read.outside_request += 1;
                        continue;
                    }
                },
                (None, 1) => 0,
                (None, _) => return Err(malformed(format!("device {} names no tenant, so it cannot be attributed", device.id))),
            };
            let id = id_hash(&device.id);
            if self.seen_devices.contains(&id) || !seen_on_page.insert(id) {
                read.duplicates_skipped += 1;
                continue;
            }
            let attributes = &device.attributes;
            let manage_status = managed.get(device.id.as_str()).copied().flatten();
            let outcome = classify(attributes.online_status.as_deref(), manage_status, attributes.device_type.as_deref());
            outcomes.push((position, outcome));
            if keep_records {
                let (counted_toward, excluded) = match outcome {
                    Outcome::Counted(class) => (class.services().iter().map(|s| s.to_string()).collect(), None),
                    Outcome::Excluded(reason) => (Vec::new(), Some(reason)),
                };
                read.records.push((
                    position,
                    DeviceRecord {
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
                    },
                ));
            }
        }

        for (position, outcome) in outcomes {
            self.tallies[position].add(outcome);
            read.devices += 1;
        }
        self.seen_devices.extend(seen_on_page);
        self.empty_pages_in_a_row = empty_pages_in_a_row;
        match next {
            Next::End => read.last = true,
            Next::After(cursor) => {
                self.seen_cursors.push(cursor.clone());
                self.after = Some(cursor);
            }
        }
        Ok(read)
    }
}

/// FNV-1a: stable across builds, so a token from one plugin version still dedups in the next.
fn id_hash(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
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
        let read = batch.absorb(&first, BASE, true).unwrap();
        assert!(!read.last);
        assert_eq!(batch.after.as_deref(), Some("c1"));
        assert!(batch.query().ends_with("&page%5Bafter%5D=c1"), "{}", batch.query());
        let last = page(vec![device("d3", Some("t2"), "firewall", "offline"), device("d9", Some("zz"), "router", "online")], &[], None);
        let read = batch.absorb(&last, BASE, true).unwrap();
        assert!(read.last);
        assert_eq!((read.devices, read.outside_request), (1, 1));
        assert_eq!(batch.tallies[0].counts().routers, 1);
        assert_eq!(batch.tallies[1].counts().total_switches, 1);
        assert_eq!(batch.tallies[1].excluded().offline, 1);
        assert_eq!(read.records[0].0, 1);
        assert_eq!(read.records[0].1.excluded, Some(crate::counting::Exclusion::Offline));
    }

    #[test]
    fn a_device_listed_on_two_pages_counts_once_also_across_a_token() {
        let next = format!("{BASE}/v1/x?page[after]=c1");
        let mut batch = BatchRead::new(vec!["t1".into()]);
        batch.absorb(&page(vec![device("d1", None, "router", "online")], &[("d1", true)], Some(&next)), BASE, false).unwrap();
        let mut batch: BatchRead = serde_json::from_str(&serde_json::to_string(&batch).unwrap()).unwrap();
        let again = page(vec![device("d1", None, "router", "online"), device("d2", None, "router", "online")], &[("d1", true), ("d2", true)], None);
        let read = batch.absorb(&again, BASE, false).unwrap();
        assert_eq!((batch.tallies[0].counts().routers, read.devices, read.duplicates_skipped), (2, 1, 1));
    }

    #[test]
    fn a_refused_page_leaves_no_device_seen() {
        let mut batch = BatchRead::new(vec!["t1".into(), "t2".into()]);
        let refused = page(vec![device("d1", Some("t1"), "router", "online"), device("anonymous", None, "router", "online")], &[("d1", true)], None);
        assert!(batch.absorb(&refused, BASE, false).unwrap_err().message.contains("names no tenant"));
        let read = batch.absorb(&page(vec![device("d1", Some("t1"), "router", "online")], &[("d1", true)], None), BASE, false).unwrap();
        assert_eq!((batch.tallies[0].counts().routers, read.duplicates_skipped), (1, 0));
    }

    #[test]
    fn a_device_listed_twice_on_a_page_counts_once() {
        let mut batch = BatchRead::new(vec!["t1".into()]);
        let twice = page(vec![device("d1", None, "router", "online"), device("d1", None, "router", "online")], &[("d1", true)], None);
        let read = batch.absorb(&twice, BASE, false).unwrap();
        assert_eq!((batch.tallies[0].counts().routers, read.duplicates_skipped), (1, 1));
        assert!(read.records.is_empty());
    }

    #[test]
    fn untrustworthy_paging_is_malformed_and_changes_nothing() {
        let next = format!("{BASE}/v1/x?page[after]=same");
        let mut batch = BatchRead::new(vec!["t1".into()]);
        batch.absorb(&page(vec![device("a", None, "router", "online")], &[("a", true)], Some(&next)), BASE, false).unwrap();
        let before = batch.tallies.clone();
        let error = batch.absorb(&page(vec![device("b", None, "router", "online")], &[("b", true)], Some(&next)), BASE, false).unwrap_err();
        assert!(error.message.contains("repeated the cursor"), "{}", error.message);
        assert_eq!(batch.tallies, before, "a refused page adds nothing");

        let mut batch = BatchRead::new(vec!["t1".into()]);
        let elsewhere = page(vec![], &[], Some("https://evil.example/v1/x?page[after]=c"));
        assert_eq!(batch.absorb(&elsewhere, BASE, false).unwrap_err().code, ErrorCode::MalformedResponse);

        let mut batch = BatchRead::new(vec!["t1".into()]);
        let results: Vec<_> = (0..3)
            .map(|n| batch.absorb(&page(vec![], &[], Some(&format!("{BASE}/v1/x?page[after]=c{n}"))), BASE, false).map(|read| read.last))
            .collect();
        assert!(results[2].as_ref().unwrap_err().message.contains("empty pages"), "{results:?}");

        let mut batch = BatchRead::new(vec!["t1".into(), "t2".into()]);
        let anonymous = page(vec![device("a", None, "router", "online")], &[], None);
        assert!(batch.absorb(&anonymous, BASE, false).unwrap_err().message.contains("names no tenant"));
        assert_eq!(batch.tallies, vec![Tally::default(); 2]);
    }
}
