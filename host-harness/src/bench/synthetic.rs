//! Synthetic Auvik accounts, generated deterministically: an MSP root with multi-clients and
//! clients, devices with every attribute Auvik sends (about 1.2 KB each), and billing usage.
//! Each account comes with the exchanges that answer exactly the requests the plugin makes,
//! the list of those requests in order (for the plain-HTTP floor), and the counts each site
//! must come out with, computed here from the counting rules rather than by the plugin.

use crate::replay::{Exchange, RecordedResponse, RequestMatcher, Scenario, BASE_URL_PLACEHOLDER};
use auvik_sync::auvik::url::with_query;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

pub const TENANTS_PATH: &str = "/v1/tenants";
pub const DEVICE_INFO_PATH: &str = "/v1/inventory/device/info";
pub const BILLING_PATH: &str = "/v1/billing/usage/client";
/// The plugin's batching, mirrored on purpose: if the plugin asks differently, the replay
/// server has no answer and the bench fails instead of quietly measuring another load.
pub const TENANTS_PER_REQUEST: usize = 100;
pub const PAGE_SIZE: usize = 1000;
pub const BILLING_FROM: &str = "2026-11-01";
pub const BILLING_THRU: &str = "2026-11-30";
const PERIOD_DAYS: u64 = 30;

/// The service ids of a sync's `counts`, in the plugin's order.
pub const SERVICE_IDS: [&str; 9] = [
    "total_billable_devices",
    "firewalls",
    "controllers",
    "routers",
    "layer_3_switches",
    "voip_switches",
    "switch_stacks",
    "total_switches",
    "access_points",
];
/// The keys of a sync's `excluded`.
pub const EXCLUSION_KEYS: [&str; 4] = ["offline", "unmanaged", "manage_status_unknown", "other_type"];

/// An account size: client sites (tenants that own devices) and devices across them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub name: &'static str,
    pub sites: usize,
    pub devices: usize,
}

impl Size {
    /// For tests: one page, one batch, a multi-client with two sites and one direct client.
    pub const TINY: Size = Size { name: "tiny", sites: 3, devices: 120 };
    pub const SMALL: Size = Size { name: "small", sites: 10, devices: 1_000 };
    pub const MEDIUM: Size = Size { name: "medium", sites: 100, devices: 10_000 };
    pub const LARGE: Size = Size { name: "large", sites: 300, devices: 100_000 };
    pub const ALL: [Size; 4] = [Size::TINY, Size::SMALL, Size::MEDIUM, Size::LARGE];

    pub fn by_name(name: &str) -> Option<Size> {
        Size::ALL.into_iter().find(|size| size.name == name)
    }

    /// One tenant list, one request per 1,000 devices, one billing request.
    pub fn minimum_requests(&self, with_billing: bool) -> usize {
        1 + self.devices.div_ceil(PAGE_SIZE) + usize::from(with_billing)
    }
}

/// What one site must come out with.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSite {
    pub id: String,
    pub domain_prefix: String,
    /// In the order of [`SERVICE_IDS`].
    pub counts: [u64; 9],
    /// In the order of [`EXCLUSION_KEYS`].
    pub excluded: [u64; 4],
    pub devices: u64,
    /// `deviceUsage.averageDays` as served.
    pub average_billable_devices: f64,
}

pub struct SyntheticAccount {
    pub size: Size,
    pub scenario: Scenario,
    pub exchanges: Vec<Exchange>,
    /// Sites in `/v1/tenants` order.
    pub expected: Vec<ExpectedSite>,
    /// Path and query of every request a sync with a billing period makes, in order.
    pub requests: Vec<String>,
    /// Every tenant `/v1/tenants` lists: root, multi-clients and sites.
    pub tenants_listed: usize,
    pub multi_clients: usize,
    pub device_pages: usize,
    pub billing_requests: usize,
    /// Serialized bodies, before `{{base_url}}` is filled in.
    pub body_bytes: u64,
    /// The device objects alone (without `included`, links and envelope).
    pub device_json_bytes: u64,
}

impl SyntheticAccount {
    pub fn average_device_bytes(&self) -> f64 {
        self.device_json_bytes as f64 / self.size.devices.max(1) as f64
    }

    pub fn total_devices(&self) -> u64 {
        self.expected.iter().map(|site| site.devices).sum()
    }
}

/// SplitMix64: small, fast, and the same numbers on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn percent(&mut self) -> u64 {
        self.below(100)
    }

    fn pick<'a, T>(&mut self, weighted: &'a [(T, u64)]) -> &'a T {
        let total: u64 = weighted.iter().map(|(_, weight)| weight).sum();
        let mut roll = self.below(total);
        for (item, weight) in weighted {
            if roll < *weight {
                return item;
            }
            roll -= weight;
        }
        &weighted[weighted.len() - 1].0
    }
}

const PREFIX_WORDS: [&str; 24] = [
    "acme", "globex", "initech", "umbrella", "stark", "wayne", "wonka", "tyrell", "cyberdyne", "soylent", "hooli", "vandelay",
    "dunder", "gringotts", "oscorp", "massive", "nakatomi", "virtucon", "wernham", "zorg", "aperture", "blackmesa", "monarch",
    "pendant",
];
const PREFIX_KINDS: [&str; 12] =
    ["dental", "law", "clinic", "hq", "retail", "logistics", "school", "hotel", "labs", "bank", "foods", "energy"];

/// `(deviceType, weight)`: switches and access points dominate, as in real networks.
const DEVICE_TYPES: [(&str, u64); 19] = [
    ("switch", 26),
    ("accessPoint", 18),
    ("router", 7),
    ("firewall", 6),
    ("l3Switch", 4),
    ("stack", 2),
    ("voipSwitch", 1),
    ("controller", 2),
    ("utm", 1),
    ("thinAccessPoint", 3),
    ("server", 6),
    ("workstation", 5),
    ("printer", 5),
    ("phone", 4),
    ("ups", 3),
    ("camera", 3),
    ("hypervisor", 1),
    ("storage", 1),
    ("unknown", 2),
];
const ONLINE_STATUSES: [(&str, u64); 6] =
    [("online", 86), ("offline", 7), ("unreachable", 3), ("dormant", 2), ("unknown", 1), ("notPresent", 1)];
/// `Some(managed)` or `None` for a device without a `deviceDetail` in `included`.
const MANAGE_STATUSES: [(Option<bool>, u64); 3] = [(Some(true), 90), (Some(false), 7), (None, 3)];

/// `(vendor, model, software version, description)` per device type.
fn catalog(device_type: &str) -> &'static [(&'static str, &'static str, &'static str, &'static str)] {
    match device_type {
        "switch" => &[
            ("Cisco Meraki", "MS120-24P", "MS 15.21.1", "Meraki MS120-24P Cloud Managed PoE Switch"),
            ("HPE Aruba", "Aruba 2530-48G-PoE+", "YA.16.11.0015", "Aruba J9772A 2530-48G-PoEP Switch"),
            ("Ubiquiti", "USW-Pro-24-PoE", "6.6.61", "UniFi Switch Pro 24 PoE"),
            ("Cisco", "Catalyst 9200L-24P-4G", "17.9.4a", "Cisco IOS Software [Cupertino], Catalyst L3 Switch Software"),
        ],
        "l3Switch" => &[
            ("HPE Aruba", "Aruba 2930F-24G", "WC.16.11.0012", "Aruba JL259A 2930F-24G-4SFP Switch"),
            ("Cisco", "Catalyst 9300-48P", "17.9.4a", "Cisco IOS Software [Cupertino], Catalyst L3 Switch Software (CAT9K_IOSXE)"),
        ],
        "stack" => &[("Cisco", "Catalyst 9300-48P", "17.9.4a", "Cisco Catalyst 9300 stack, 3 members")],
        "voipSwitch" => &[("Cisco", "Catalyst 3560-CX-12PC-S", "15.2(7)E8", "Cisco IOS Software, C3560CX Software (C3560CX-UNIVERSALK9-M)")],
        "router" => &[
            ("Cisco", "ISR4331/K9", "16.12.5", "Cisco IOS XE Software, ISR Software (X86_64_LINUX_IOSD-UNIVERSALK9-M)"),
            ("Ubiquiti", "EdgeRouter 4", "v2.0.9-hotfix.7", "EdgeOS v2.0.9-hotfix.7.5622762.230615.0857"),
            ("MikroTik", "RB5009UG+S+IN", "7.14.3", "RouterOS RB5009UG+S+"),
        ],
        "firewall" => &[
            ("Fortinet", "FortiGate 60F", "v7.2.8", "FortiGate-60F v7.2.8,build1639,240313 (GA.M)"),
            ("SonicWall", "TZ370", "7.0.1-5145", "SonicWALL TZ 370 (SonicOS 7.0.1-5145-R5175)"),
            ("Cisco Meraki", "MX68", "MX 18.107.10", "Meraki MX68 Cloud Managed Security Appliance"),
        ],
        "utm" => &[("Sophos", "XGS 2100", "SFOS 20.0.1 MR-1", "Sophos XGS 2100 Firewall")],
        "controller" => &[
            ("Ubiquiti", "UniFi Cloud Key Gen2 Plus", "3.2.12", "UniFi Cloud Key Gen2 Plus"),
            ("Cisco", "Catalyst 9800-L", "17.9.4", "Cisco Catalyst 9800-L Wireless Controller"),
        ],
        "accessPoint" => &[
            ("Cisco Meraki", "MR46", "MR 30.7", "Meraki MR46 Cloud Managed Indoor AP"),
            ("Ubiquiti", "U6-Pro", "6.6.77", "UniFi AP U6 Pro"),
            ("HPE Aruba", "AP-515", "8.10.0.10", "Aruba AP-515 Access Point"),
        ],
        "thinAccessPoint" => &[("HPE Aruba", "AP-305", "8.10.0.10", "Aruba AP-305 (controller managed)")],
        "server" => &[("Dell", "PowerEdge R650", "2.19.1", "Windows Server 2022 Standard, 10.0.20348")],
        "workstation" => &[("Dell", "OptiPlex 7090", "10.0.22631", "Windows 11 Pro")],
        "printer" => &[("HP", "LaserJet Enterprise M507", "2409081_052520", "HP ETHERNET MULTI-ENVIRONMENT")],
        "phone" => &[("Yealink", "SIP-T54W", "96.86.0.70", "Yealink SIP-T54W IP phone")],
        "ups" => &[("APC", "Smart-UPS 1500", "UPS 09.8", "APC Web/SNMP Management Card (MB:v4.1.0 PF:v6.9.6)")],
        "camera" => &[("Axis", "P3245-LVE", "10.12.182", "AXIS P3245-LVE Network Camera")],
        "hypervisor" => &[("VMware", "ESXi", "8.0.2", "VMware ESXi 8.0.2 build-22380479")],
        "storage" => &[("Synology", "RS1221+", "DSM 7.2.1-69057", "Synology RackStation RS1221+")],
        _ => &[("", "", "", "")],
    }
}

fn type_code(device_type: &str) -> &'static str {
    match device_type {
        "switch" => "SW",
        "l3Switch" => "CORE",
        "stack" => "STK",
        "voipSwitch" => "VSW",
        "router" => "RTR",
        "firewall" | "utm" => "FW",
        "controller" => "WLC",
        "accessPoint" | "thinAccessPoint" => "AP",
        "server" => "SRV",
        "workstation" => "WS",
        "printer" => "PRN",
        "phone" => "PH",
        "ups" => "UPS",
        "camera" => "CAM",
        "hypervisor" => "ESX",
        "storage" => "NAS",
        _ => "DEV",
    }
}

/// The service indexes (into [`SERVICE_IDS`]) a device adds one to, per the README's rules.
fn services_of(device_type: &str) -> &'static [usize] {
    match device_type {
        "firewall" | "utm" => &[0, 1],
        "controller" => &[0, 2],
        "router" => &[0, 3],
        "l3Switch" => &[0, 4, 7],
        "voipSwitch" => &[0, 5, 7],
        "stack" => &[0, 6, 7],
        "switch" => &[0, 7],
        "accessPoint" | "thinAccessPoint" => &[8],
        _ => &[],
    }
}

fn tenant_id(n: u64) -> String {
    format!("{}", 500_000_000_000_000_000u64 + n)
}

fn entity_id(tenant: &str, entity: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{tenant},{entity}"))
}

struct Site {
    id: String,
    prefix: String,
    code: String,
    number: usize,
    devices: usize,
}

struct Device {
    id: String,
    name: String,
    billable_days: Option<u64>,
}

/// Builds the account for `size`. The same size always gives the same bytes.
pub fn account(size: &Size) -> SyntheticAccount {
    let mut rng = Rng(0x00A0_71C5 ^ (size.sites as u64) << 20 ^ size.devices as u64);
    let root_id = tenant_id(1);
    let root_prefix = "benchmsp".to_string();
    let mut tenants: Vec<Value> = vec![json!({
        "type": "tenant", "id": root_id, "attributes": {"domainPrefix": root_prefix, "tenantType": "multiClient"}
    })];
    let mut sites: Vec<Site> = Vec::with_capacity(size.sites);
    let mut next_tenant = 1000u64;
    let mut multi_clients = 0;
    let mut new_tenant = |rng: &mut Rng, kind: &str, parent: &str, tenants: &mut Vec<Value>| -> (String, String) {
        next_tenant += 1;
        let id = tenant_id(next_tenant);
        let word = PREFIX_WORDS[rng.below(PREFIX_WORDS.len() as u64) as usize];
        let suffix = PREFIX_KINDS[rng.below(PREFIX_KINDS.len() as u64) as usize];
        let prefix = format!("{word}-{suffix}{next_tenant}");
        tenants.push(json!({
            "type": "tenant", "id": id,
            "attributes": {"domainPrefix": prefix, "tenantType": kind},
            "relationships": {"parent": {"data": {"type": "tenant", "id": parent}}}
        }));
        (id, prefix)
    };
    let add_site = |id: String, prefix: String, sites: &mut Vec<Site>| {
        let code: String = prefix.split('-').next().unwrap_or("X").chars().take(4).collect::<String>().to_uppercase();
        let number = sites.len();
        sites.push(Site { id, prefix, code, number, devices: 0 });
    };
    while sites.len() < size.sites {
        let left = size.sites - sites.len();
        // The first customer is always a multi-client, so even the tiny account has one.
        let grouped = left >= 2 && (sites.is_empty() || rng.percent() < 30);
        if !grouped {
            let (id, prefix) = new_tenant(&mut rng, "client", &root_id, &mut tenants);
            add_site(id, prefix, &mut sites);
            continue;
        }
        multi_clients += 1;
        let (customer, _) = new_tenant(&mut rng, "multiClient", &root_id, &mut tenants);
        let count = if sites.is_empty() { 2 } else { (2 + rng.below(5) as usize).min(left) };
        // Every third multi-client nests a regional multi-client holding its last sites.
        let nested_from = if multi_clients % 3 == 0 && count >= 3 { count / 2 } else { count };
        for _ in 0..nested_from {
            let (id, prefix) = new_tenant(&mut rng, "client", &customer, &mut tenants);
            add_site(id, prefix, &mut sites);
        }
        if nested_from < count {
            multi_clients += 1;
            let (region, _) = new_tenant(&mut rng, "multiClient", &customer, &mut tenants);
            for _ in nested_from..count {
                let (id, prefix) = new_tenant(&mut rng, "client", &region, &mut tenants);
                add_site(id, prefix, &mut sites);
            }
        }
    }

    // Uneven sites: most are small, a few are large, and the total is exact.
    let weights: Vec<u64> = (0..sites.len()).map(|_| if rng.percent() < 8 { 40 + rng.below(60) } else { 1 + rng.below(20) }).collect();
    let total_weight: u64 = weights.iter().sum();
    let mut assigned = 0;
    for (site, weight) in sites.iter_mut().zip(&weights) {
        site.devices = (size.devices as u64 * weight / total_weight) as usize;
        assigned += site.devices;
    }
    let site_count = sites.len();
    for extra in 0..size.devices - assigned {
        sites[extra % site_count].devices += 1;
    }

    let scenario = Scenario::new(
        format!("synthetic {} account: {} sites, {} devices", size.name, size.sites, size.devices),
        "bench@benchmsp.example",
        "bench-key-5c1f0e9a7d3b",
    );
    let tenants_body = json!({ "data": tenants }).to_string();
    let mut body_bytes = tenants_body.len() as u64;
    let mut exchanges = vec![Exchange::new(
        "synthetic/tenants",
        RequestMatcher::get(TENANTS_PATH, Vec::<(String, String)>::new()),
        RecordedResponse::json_text(200, tenants_body),
    )];
    let mut requests = vec![TENANTS_PATH.to_string()];
    let mut expected: Vec<ExpectedSite> = Vec::with_capacity(sites.len());
    let mut billable: Vec<Vec<Device>> = Vec::with_capacity(sites.len());
    let mut device_pages = 0;
    let mut device_json_bytes = 0u64;
    let mut next_entity = 400_000_000_000_500_000u64;

    for (batch_number, batch) in sites.chunks(TENANTS_PER_REQUEST).enumerate() {
        let ids = batch.iter().map(|site| site.id.as_str()).collect::<Vec<_>>().join(",");
        let batch_devices: usize = batch.iter().map(|site| site.devices).sum();
        let pages = batch_devices.div_ceil(PAGE_SIZE).max(1);
        let mut page = PageBuilder::new(&ids, pages);
        for site in batch {
            let mut tally = ExpectedSite {
                id: site.id.clone(),
                domain_prefix: site.prefix.clone(),
                counts: [0; 9],
                excluded: [0; 4],
                devices: site.devices as u64,
                average_billable_devices: 0.0,
            };
            let mut site_billable = Vec::new();
            for n in 0..site.devices {
                next_entity += 1;
                let (device, manage, json) = make_device(&mut rng, site, n, next_entity);
                device_json_bytes += json.to_string().len() as u64;
                let device_type = json["attributes"]["deviceType"].as_str().unwrap_or_default();
                let online = json["attributes"]["onlineStatus"].as_str().unwrap_or_default();
                match (online, manage) {
                    ("online", Some(true)) => {
                        let services = services_of(device_type);
                        for &service in services {
                            tally.counts[service] += 1;
                        }
                        if services.is_empty() {
                            tally.excluded[3] += 1;
                        }
                        if services.first() == Some(&0) {
                            site_billable.push(Device {
                                billable_days: Some(if rng.percent() < 85 { PERIOD_DAYS } else { 1 + rng.below(PERIOD_DAYS - 1) }),
                                ..device
                            });
                        }
                    }
                    ("online", Some(false)) => tally.excluded[1] += 1,
                    ("online", None) => tally.excluded[2] += 1,
                    _ => tally.excluded[0] += 1,
                }
                page.push(json, manage);
                if page.is_full() {
                    exchanges.push(page.finish(batch_number, &mut requests, &mut body_bytes));
                    device_pages += 1;
                }
            }
            let device_days: u64 = site_billable.iter().filter_map(|device| device.billable_days).sum();
            tally.average_billable_devices = (device_days as f64 / PERIOD_DAYS as f64 * 100.0).round() / 100.0;
            expected.push(tally);
            billable.push(site_billable);
        }
        if page.has_content_or_is_first() {
            exchanges.push(page.finish(batch_number, &mut requests, &mut body_bytes));
            device_pages += 1;
        }
        debug_assert_eq!(page.number, pages);
    }

    let mut billing_requests = 0;
    for (chunk_number, chunk) in sites.chunks(TENANTS_PER_REQUEST).enumerate() {
        let start = chunk_number * TENANTS_PER_REQUEST;
        let ids = chunk.iter().map(|site| site.id.as_str()).collect::<Vec<_>>().join(",");
        let rows: Vec<Value> = chunk
            .iter()
            .zip(&expected[start..start + chunk.len()])
            .zip(&billable[start..start + chunk.len()])
            .map(|((site, expected), devices)| billing_row(site, &root_prefix, expected.average_billable_devices, devices))
            .collect();
        let body = json!({ "data": rows }).to_string();
        body_bytes += body.len() as u64;
        let query = [("filter[fromDate]", BILLING_FROM), ("filter[thruDate]", BILLING_THRU), ("tenants", ids.as_str())];
        requests.push(with_query(BILLING_PATH, &query));
        exchanges.push(Exchange::new(
            format!("synthetic/billing-{chunk_number}"),
            RequestMatcher::get(BILLING_PATH, query),
            RecordedResponse::json_text(200, body),
        ));
        billing_requests += 1;
    }

    SyntheticAccount {
        size: *size,
        scenario,
        exchanges,
        expected,
        requests,
        tenants_listed: tenants.len(),
        multi_clients,
        device_pages,
        billing_requests,
        body_bytes,
        device_json_bytes,
    }
}

/// One device as `/v1/inventory/device/info` lists it, and its manage status.
fn make_device(rng: &mut Rng, site: &Site, n: usize, entity: u64) -> (Device, Option<bool>, Value) {
    let device_type = *rng.pick(&DEVICE_TYPES);
    let online = *rng.pick(&ONLINE_STATUSES);
    let manage = *rng.pick(&MANAGE_STATUSES);
    let models = catalog(device_type);
    let (vendor, model, software, description) = models[rng.below(models.len() as u64) as usize];
    let none_if_empty = |text: &str| if text.is_empty() { Value::Null } else { Value::from(text) };
    let id = entity_id(&site.id, entity);
    let name = format!("{}-{}{:02}", site.code, type_code(device_type), n + 1);
    let octet = (site.number % 250) as u64 + 1;
    let ip_count = if rng.percent() < 80 { 1 } else { 2 };
    let ips: Vec<String> = (0..ip_count).map(|i| format!("10.{octet}.{}.{}", i * 10 + rng.below(8), 2 + rng.below(250))).collect();
    let serial = if rng.percent() < 15 { Value::Null } else { Value::from(format!("Q2{:02}-{:04X}-{:04X}", octet, entity % 65_536, rng.below(65_536))) };
    let firmware = if rng.percent() < 40 { Value::Null } else { none_if_empty(software) };
    let timestamp = |rng: &mut Rng, day: u64| {
        format!("2026-11-{day:02}T{:02}:{:02}:{:02}.{:03}Z", rng.below(24), rng.below(60), rng.below(60), rng.below(1000))
    };
    let networks: Vec<Value> = (0..if rng.percent() < 90 { 1 } else { 2 })
        .map(|i| {
            let network_entity = 400_000_000_000_700_000 + (site.number as u64) * 16 + i;
            json!({
                "type": "network",
                "id": entity_id(&site.id, network_entity),
                "attributes": {"networkName": format!("10.{octet}.{}.0/24", i * 10)},
                "links": {
                    "self": format!("{BASE_URL_PLACEHOLDER}/v1/inventory/network/info/{}", entity_id(&site.id, network_entity)),
                    "dashboard": format!("https://{}.my.auvik.com/#entity/network/{network_entity}/dashboard", site.prefix)
                }
            })
        })
        .collect();
    let dashboard = format!("https://{}.my.auvik.com/#entity/device/{entity}/dashboard", site.prefix);
    let modified_day = 1 + rng.below(28);
    let modified = timestamp(rng, modified_day);
    let seen = timestamp(rng, 30);
    let json = json!({
        "type": "device",
        "id": id,
        "attributes": {
            "ipAddresses": ips,
            "deviceName": name,
            "deviceType": device_type,
            "makeModel": none_if_empty(model),
            "vendorName": none_if_empty(vendor),
            "softwareVersion": none_if_empty(software),
            "serialNumber": serial,
            "description": none_if_empty(description),
            "firmwareVersion": firmware,
            "lastModified": modified,
            "lastSeenTime": seen,
            "onlineStatus": online
        },
        "relationships": {
            "tenant": {"data": {"type": "tenant", "id": site.id, "attributes": {"domainPrefix": site.prefix}}},
            "networks": {"data": networks},
            "deviceDetail": {"data": {
                "type": "deviceDetail",
                "id": id,
                "links": {
                    "self": format!("{BASE_URL_PLACEHOLDER}/v1/inventory/device/detail/{id}"),
                    "dashboard": dashboard
                }
            }}
        },
        "links": {
            "self": format!("{BASE_URL_PLACEHOLDER}/v1/inventory/device/info/{id}"),
            "dashboard": dashboard
        }
    });
    (Device { id, name, billable_days: None }, manage, json)
}

/// Accumulates one page of a batch and turns it into an exchange.
struct PageBuilder<'a> {
    ids: &'a str,
    pages: usize,
    /// Pages finished so far.
    number: usize,
    after: Option<String>,
    data: Vec<Value>,
    included: Vec<Value>,
}

impl<'a> PageBuilder<'a> {
    fn new(ids: &'a str, pages: usize) -> Self {
        PageBuilder { ids, pages, number: 0, after: None, data: Vec::with_capacity(PAGE_SIZE), included: Vec::with_capacity(PAGE_SIZE) }
    }

    fn push(&mut self, device: Value, manage: Option<bool>) {
        if let Some(managed) = manage {
            self.included.push(json!({"type": "deviceDetail", "id": device["id"], "attributes": {"manageStatus": managed}}));
        }
        self.data.push(device);
    }

    fn is_full(&self) -> bool {
        self.data.len() == PAGE_SIZE
    }

    fn has_content_or_is_first(&self) -> bool {
        !self.data.is_empty() || self.number == 0
    }

    fn finish(&mut self, batch_number: usize, requests: &mut Vec<String>, body_bytes: &mut u64) -> Exchange {
        let page_size = PAGE_SIZE.to_string();
        let mut query = vec![
            ("tenants", self.ids.to_string()),
            ("include", "deviceDetail".to_string()),
            ("fields[deviceDetail]", "manageStatus".to_string()),
            ("page[first]", page_size.clone()),
        ];
        if let Some(after) = &self.after {
            query.push(("page[after]", after.clone()));
        }
        let borrowed: Vec<(&str, &str)> = query.iter().map(|(key, value)| (*key, value.as_str())).collect();
        requests.push(with_query(DEVICE_INFO_PATH, &borrowed));

        // Links as Auvik writes them: absolute, brackets unencoded, every filter kept.
        let link = |tail: String| {
            format!(
                "{BASE_URL_PLACEHOLDER}{DEVICE_INFO_PATH}?tenants={}&include=deviceDetail&fields[deviceDetail]=manageStatus&{tail}",
                self.ids
            )
        };
        let last_page = self.number + 1 == self.pages;
        let next = match (last_page, self.data.last()) {
            (false, Some(last)) => {
                let cursor = URL_SAFE_NO_PAD.encode(format!("cursor:{}", last["id"].as_str().unwrap_or_default()));
                Value::from(link(format!("page[first]={PAGE_SIZE}&page[after]={cursor}")))
            }
            _ => Value::Null,
        };
        let mut links = json!({
            "first": link(format!("page[first]={PAGE_SIZE}")),
            "last": link(format!("page[last]={PAGE_SIZE}")),
            "next": next.clone(),
        });
        if let (Some(_), Some(first)) = (&self.after, self.data.first()) {
            let before = URL_SAFE_NO_PAD.encode(format!("cursor:{}", first["id"].as_str().unwrap_or_default()));
            links["prev"] = Value::from(link(format!("page[last]={PAGE_SIZE}&page[before]={before}")));
        }
        let body = json!({
            "data": std::mem::take(&mut self.data),
            "included": std::mem::take(&mut self.included),
            "links": links,
            "meta": {"totalPages": self.pages}
        })
        .to_string();
        *body_bytes += body.len() as u64;
        let exchange = Exchange::new(
            format!("synthetic/devices-batch{batch_number}-page{}", self.number + 1),
            RequestMatcher::get(DEVICE_INFO_PATH, query),
            RecordedResponse::json_text(200, body),
        );
        self.after = next.as_str().and_then(|link| link.rsplit_once("page[after]=")).map(|(_, cursor)| cursor.to_string());
        self.number += 1;
        exchange
    }
}

/// One `clientUsage` row, with the devices Auvik billed for the site in the period.
fn billing_row(site: &Site, root_prefix: &str, average: f64, devices: &[Device]) -> Value {
    let device_days: u64 = devices.iter().filter_map(|device| device.billable_days).sum();
    let period = format!("from={BILLING_FROM}&to={BILLING_THRU}");
    let device_rows: Vec<Value> = devices
        .iter()
        .map(|device| {
            json!({
                "type": "deviceUsage",
                "id": device.id,
                "attributes": {"name": device.name, "totalDays": device.billable_days, "clientName": site.prefix},
                "links": {
                    "deviceRecord": format!("{BASE_URL_PLACEHOLDER}/v1/inventory/device/info/{}", device.id),
                    "self": format!("{BASE_URL_PLACEHOLDER}/v1/billing/usage/device/{}?{period}", device.id)
                }
            })
        })
        .collect();
    let by_type = |value: Value| json!({"notier": 0, "light": 0, "essentials": value, "performance": 0});
    json!({
        "type": "clientUsage",
        "id": site.id,
        "attributes": {
            "domainPrefix": site.prefix,
            "billableDays": PERIOD_DAYS,
            "usagePeriod": {"startDate": "2026-11-01T00:00:00Z", "endDate": "2026-12-01T00:00:00Z", "lengthInDays": PERIOD_DAYS},
            "deviceUsage": {
                "totalDays": device_days,
                "averageDays": average,
                "totalDaysByClientType": by_type(device_days.into()),
                "averageDaysByClientType": by_type(average.into())
            },
            "clientUsage": {
                "totalDays": PERIOD_DAYS,
                "averagedDays": 1,
                "totalDaysByClientType": by_type(PERIOD_DAYS.into()),
                "averageDaysByClientType": by_type(1.into())
            },
            "monitoredWorkstations": [],
            "monitoredServers": [],
            "maxMonitoredWorkstations": 0,
            "maxMonitoredServers": 0,
            "asmUserUsage": {"totalAsmUsers": 0}
        },
        "relationships": {
            "devices": {"data": device_rows},
            "clients": {"data": []},
            "asmUsers": {"data": []}
        },
        "links": {
            "dashboard": format!("https://{root_prefix}.my.auvik.com/#admin/settings/billingUsage"),
            "tenantRecord": format!("{BASE_URL_PLACEHOLDER}/v1/tenants/detail/{}?tenantDomainPrefix={root_prefix}", site.id),
            "self": format!("{BASE_URL_PLACEHOLDER}/v1/billing/usage/client?tenants={}&{period}", site.id)
        }
    })
}

/// A `map` input of `accounts` Auvik accounts and `companies` PSA companies, and what must
/// come out: which accounts map onto which company, and which only get a suggestion.
pub struct SyntheticMap {
    pub input: Value,
    /// `(account id, company id)` of every account whose display name is, apart from case and
    /// spacing, the name of exactly one company: mapped automatically.
    pub exact: Vec<(String, String)>,
    /// `(account id, company id)` of accounts whose company differs by a legal suffix: left
    /// unmapped, with that company among the suggestions.
    pub suggested: Vec<(String, String)>,
    pub accounts: usize,
    pub companies: usize,
}

const NAME_FIRST: [&str; 32] = [
    "Northwind", "Contoso", "Fabrikam", "Litware", "Adventure", "Blue Yonder", "Coho", "Alpine", "Bellows", "Cedar", "Summit",
    "Harbor", "Granite", "Silverline", "Redwood", "Evergreen", "Lakeside", "Pioneer", "Keystone", "Beacon", "Frontier", "Meridian",
    "Riverside", "Oakmont", "Sterling", "Highland", "Crescent", "Liberty", "Horizon", "Prairie", "Coastal", "Metro",
];
const NAME_SECOND: [&str; 32] = [
    "Dental", "Legal", "Medical", "Family", "Veterinary", "Auto", "Insurance", "Realty", "Accounting", "Architecture", "Dermatology",
    "Pediatrics", "Orthodontics", "Logistics", "Construction", "Engineering", "Pharmacy", "Optometry", "Chiropractic", "Printing",
    "Roofing", "Plumbing", "Electric", "Landscaping", "Catering", "Fitness", "Brewing", "Marine", "Aviation", "Storage", "Textiles",
    "Robotics",
];
const NAME_THIRD: [&str; 20] = [
    "Group", "Partners", "Associates", "Clinic", "Services", "Holdings", "Center", "Studio", "Works", "Solutions", "Care",
    "Consulting", "Supply", "Systems", "Labs", "Agency", "Collective", "Network", "Office", "Trust",
];

/// A company-like name; distinct `index` values below 20,480 give distinct names.
fn company_name(index: usize) -> String {
    let total = NAME_FIRST.len() * NAME_SECOND.len() * NAME_THIRD.len();
    let spread = (index * 7919) % total;
    let first = NAME_FIRST[spread % NAME_FIRST.len()];
    let second = NAME_SECOND[(spread / NAME_FIRST.len()) % NAME_SECOND.len()];
    let third = NAME_THIRD[spread / (NAME_FIRST.len() * NAME_SECOND.len())];
    format!("{first} {second} {third}")
}

/// 60% of accounts have their company under the same name (some in other case or spacing),
/// 20% under the name with a legal suffix, 20% none; the other companies are unrelated names.
pub fn map_input(accounts: usize, companies: usize) -> SyntheticMap {
    let names_available = NAME_FIRST.len() * NAME_SECOND.len() * NAME_THIRD.len();
    assert!(accounts + companies <= names_available, "at most {names_available} distinct names");
    assert!(companies >= accounts, "the generator places each account's company among the companies");
    let mut rng = Rng(0x0A11_CE55 ^ accounts as u64 ^ (companies as u64) << 24);
    let mut account_rows = Vec::with_capacity(accounts);
    let mut company_rows: Vec<(String, String)> = Vec::with_capacity(companies);
    let mut exact = Vec::new();
    let mut suggested = Vec::new();
    for i in 0..accounts {
        let id = tenant_id(10_000 + i as u64);
        let display = company_name(i);
        account_rows.push(json!({"id": id, "name": format!("client{i}"), "display_name": display}));
        let company_id = format!("psa-{:05}", company_rows.len() + 1);
        match i % 10 {
            0..=5 => {
                let name = match i % 3 {
                    0 => display.to_uppercase(),
                    1 => format!("  {}  ", display.replace(' ', "  ")),
                    _ => display.clone(),
                };
                company_rows.push((company_id.clone(), name));
                exact.push((id, company_id));
            }
            6 | 7 => {
                let suffix = ["Inc.", "LLC", "Ltd", "Corp."][rng.below(4) as usize];
                company_rows.push((company_id.clone(), format!("{display} {suffix}")));
                suggested.push((id, company_id));
            }
            _ => {}
        }
    }
    let mut index = accounts;
    while company_rows.len() < companies {
        company_rows.push((format!("psa-{:05}", company_rows.len() + 1), company_name(index)));
        index += 1;
    }
    // Shuffled, so matching cannot lean on the order.
    for i in (1..company_rows.len()).rev() {
        company_rows.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let products: Vec<Value> = ["Managed Firewall", "Firewalls", "Managed Switch", "Routers", "Wireless Access Points", "Network Monitoring"]
        .iter()
        .enumerate()
        .map(|(i, name)| json!({"id": format!("prod-{i}"), "name": name}))
        .collect();
    let input = json!({
        "accounts": account_rows,
        "psa_companies": company_rows.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
        "psa_products": products,
    });
    SyntheticMap { input, exact, suggested, accounts, companies }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tiny_account_has_every_kind_of_tenant_and_adds_up() {
        let account = account(&Size::TINY);
        assert_eq!(account.expected.len(), 3);
        assert_eq!(account.total_devices(), 120);
        assert!(account.multi_clients >= 1);
        assert_eq!(account.tenants_listed, 1 + account.multi_clients + 3);
        assert_eq!((account.device_pages, account.billing_requests), (1, 1));
        assert_eq!(account.requests.len(), Size::TINY.minimum_requests(true));
        for site in &account.expected {
            let excluded: u64 = site.excluded.iter().sum();
            let counted = site.counts[0] + site.counts[8];
            assert_eq!(counted + excluded, site.devices, "{site:?}");
            assert_eq!(site.counts[0], site.counts[1] + site.counts[2] + site.counts[3] + site.counts[7]);
        }
        let average = account.average_device_bytes();
        assert!((900.0..1600.0).contains(&average), "{average}");
    }

    #[test]
    fn pages_chain_by_cursor_and_batches_follow_the_tenant_order() {
        let size = Size { name: "test", sites: 130, devices: 2_500 };
        let account = account(&size);
        let pages: Vec<&Exchange> = account.exchanges.iter().filter(|e| e.request.path == DEVICE_INFO_PATH).collect();
        assert_eq!(pages.len(), account.device_pages);
        assert_eq!(account.billing_requests, 2);
        let mut devices = 0;
        for (i, page) in pages.iter().enumerate() {
            let body: Value = serde_json::from_str(&page.response.body).unwrap();
            devices += body["data"].as_array().unwrap().len();
            if let Some(next) = body["links"]["next"].as_str() {
                let cursor = next.rsplit_once("page[after]=").unwrap().1;
                let following = pages[i + 1].request.query.iter().find(|(k, _)| k == "page[after]").unwrap();
                assert_eq!(following.1, cursor);
                assert!(next.starts_with(BASE_URL_PLACEHOLDER));
            }
        }
        assert_eq!(devices, 2_500);
        let first_batch = &pages[0].request.query.iter().find(|(k, _)| k == "tenants").unwrap().1;
        let order: Vec<&str> = account.expected.iter().take(100).map(|site| site.id.as_str()).collect();
        assert_eq!(first_batch.split(',').collect::<Vec<_>>(), order);
        assert_eq!(account.requests.len(), 1 + account.device_pages + 2);
    }

    #[test]
    fn generation_is_deterministic() {
        let a = account(&Size::TINY);
        let b = account(&Size::TINY);
        assert_eq!(a.exchanges, b.exchanges);
        assert_eq!(a.expected, b.expected);
    }

    #[test]
    fn map_input_names_are_distinct() {
        let map = map_input(100, 1_000);
        let companies = map.input["psa_companies"].as_array().unwrap();
        assert_eq!(companies.len(), 1_000);
        let keys: std::collections::HashSet<String> = companies
            .iter()
            .map(|c| c["name"].as_str().unwrap().split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase())
            .collect();
        assert_eq!(keys.len(), 1_000);
        assert_eq!((map.exact.len(), map.suggested.len()), (60, 20));
    }
}
