//! The counting rules: which devices count toward which service, and why the others do not.
//! One place, so the README table, the audit list and the numbers cannot disagree.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The nine services, in the order `connect` lists them: (id, name).
pub const SERVICES: [(&str, &str); 9] = [
    ("total_billable_devices", "Total Billable Devices"),
    ("firewalls", "Firewalls"),
    ("controllers", "Controllers"),
    ("routers", "Routers"),
    ("layer_3_switches", "Layer 3 Switches"),
    ("voip_switches", "VoIP Switches"),
    ("switch_stacks", "Switch Stacks"),
    ("total_switches", "Total Switches"),
    ("access_points", "Access Points"),
];

/// The Auvik device types a service counts, by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceClass {
    Firewall,
    Controller,
    Router,
    Layer3Switch,
    VoipSwitch,
    Stack,
    Switch,
    AccessPoint,
}

impl DeviceClass {
    pub fn from_device_type(device_type: &str) -> Option<DeviceClass> {
        Some(match device_type {
            "firewall" | "utm" => DeviceClass::Firewall,
            "controller" => DeviceClass::Controller,
            "router" => DeviceClass::Router,
            "l3Switch" => DeviceClass::Layer3Switch,
            "voipSwitch" => DeviceClass::VoipSwitch,
            "stack" => DeviceClass::Stack,
            "switch" => DeviceClass::Switch,
            "accessPoint" | "thinAccessPoint" => DeviceClass::AccessPoint,
            _ => return None,
        })
    }

    /// The service ids a device of this class adds one to.
    pub fn services(self) -> &'static [&'static str] {
        match self {
            DeviceClass::Firewall => &["total_billable_devices", "firewalls"],
            DeviceClass::Controller => &["total_billable_devices", "controllers"],
            DeviceClass::Router => &["total_billable_devices", "routers"],
            DeviceClass::Layer3Switch => &["total_billable_devices", "layer_3_switches", "total_switches"],
            DeviceClass::VoipSwitch => &["total_billable_devices", "voip_switches", "total_switches"],
            DeviceClass::Stack => &["total_billable_devices", "switch_stacks", "total_switches"],
            DeviceClass::Switch => &["total_billable_devices", "total_switches"],
            DeviceClass::AccessPoint => &["access_points"],
        }
    }

    const ALL: [DeviceClass; 8] = [
        DeviceClass::Firewall,
        DeviceClass::Controller,
        DeviceClass::Router,
        DeviceClass::Layer3Switch,
        DeviceClass::VoipSwitch,
        DeviceClass::Stack,
        DeviceClass::Switch,
        DeviceClass::AccessPoint,
    ];
}

/// Why a device counts nowhere. Checked in this order; the first that applies is the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Exclusion {
    /// `onlineStatus` is not `online` (offline, unreachable, dormant, unknown, missing...).
    Offline,
    /// Auvik does not manage the device (`manageStatus` false): not billable.
    Unmanaged,
    /// Auvik did not say whether the device is managed (no `deviceDetail` for it).
    ManageStatusUnknown,
    /// Online and managed, but of a type no service counts (servers, printers, types Auvik adds later...).
    OtherType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Counted(DeviceClass),
    Excluded(Exclusion),
}

pub fn classify(online_status: Option<&str>, manage_status: Option<bool>, device_type: Option<&str>) -> Outcome {
    if online_status != Some("online") {
        return Outcome::Excluded(Exclusion::Offline);
    }
    match manage_status {
        Some(false) => return Outcome::Excluded(Exclusion::Unmanaged),
        None => return Outcome::Excluded(Exclusion::ManageStatusUnknown),
        Some(true) => {}
    }
    match device_type.and_then(DeviceClass::from_device_type) {
        Some(class) => Outcome::Counted(class),
        None => Outcome::Excluded(Exclusion::OtherType),
    }
}

/// Per-service quantities of one account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    /// firewalls + controllers + routers + total_switches. Access points are never billable.
    pub total_billable_devices: u64,
    /// Online, managed devices of type `firewall` or `utm`.
    pub firewalls: u64,
    /// Online, managed devices of type `controller`.
    pub controllers: u64,
    /// Online, managed devices of type `router`.
    pub routers: u64,
    /// Online, managed devices of type `l3Switch`.
    pub layer_3_switches: u64,
    /// Online, managed devices of type `voipSwitch`.
    pub voip_switches: u64,
    /// Online, managed devices of type `stack`.
    pub switch_stacks: u64,
    /// switch + l3Switch + voipSwitch + stack.
    pub total_switches: u64,
    /// Online, managed devices of type `accessPoint` or `thinAccessPoint`; reported, never billable.
    pub access_points: u64,
}

/// How many devices were left out, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Excluded {
    /// Not online.
    pub offline: u64,
    /// Online but not managed by Auvik.
    pub unmanaged: u64,
    /// Online, but Auvik gave no manage status.
    pub manage_status_unknown: u64,
    /// Online and managed, of a type no service counts.
    pub other_type: u64,
}

/// What one account's devices add up to. Kept per class so that merging is plain addition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    by_class: [u64; 8],
    excluded: Excluded,
}

impl Tally {
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Counted(class) => self.by_class[class as usize] += 1,
            Outcome::Excluded(Exclusion::Offline) => self.excluded.offline += 1,
            Outcome::Excluded(Exclusion::Unmanaged) => self.excluded.unmanaged += 1,
            Outcome::Excluded(Exclusion::ManageStatusUnknown) => self.excluded.manage_status_unknown += 1,
            Outcome::Excluded(Exclusion::OtherType) => self.excluded.other_type += 1,
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        for (mine, theirs) in self.by_class.iter_mut().zip(other.by_class) {
            *mine += theirs;
        }
        self.excluded.offline += other.excluded.offline;
        self.excluded.unmanaged += other.excluded.unmanaged;
        self.excluded.manage_status_unknown += other.excluded.manage_status_unknown;
        self.excluded.other_type += other.excluded.other_type;
    }

    pub fn devices_seen(&self) -> u64 {
        let excluded = self.excluded;
        self.by_class.iter().sum::<u64>() + excluded.offline + excluded.unmanaged + excluded.manage_status_unknown + excluded.other_type
    }

    pub fn excluded(&self) -> Excluded {
        self.excluded
    }

    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for class in DeviceClass::ALL {
            let quantity = self.by_class[class as usize];
            for service in class.services() {
                *counts.get_mut(service).expect("every class names known services") += quantity;
            }
        }
        counts
    }
}

impl Counts {
    fn get_mut(&mut self, service_id: &str) -> Option<&mut u64> {
        Some(match service_id {
            "total_billable_devices" => &mut self.total_billable_devices,
            "firewalls" => &mut self.firewalls,
            "controllers" => &mut self.controllers,
            "routers" => &mut self.routers,
            "layer_3_switches" => &mut self.layer_3_switches,
            "voip_switches" => &mut self.voip_switches,
            "switch_stacks" => &mut self.switch_stacks,
            "total_switches" => &mut self.total_switches,
            "access_points" => &mut self.access_points,
            _ => return None,
        })
    }

    /// Quantities in the order of [`SERVICES`].
    pub fn in_service_order(&self) -> [u64; 9] {
        [
            self.total_billable_devices,
            self.firewalls,
            self.controllers,
            self.routers,
            self.layer_3_switches,
            self.voip_switches,
            self.switch_stacks,
            self.total_switches,
            self.access_points,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn online_managed(device_type: &str) -> Outcome {
        classify(Some("online"), Some(true), Some(device_type))
    }

    #[test]
    fn every_billable_type_lands_in_its_service() {
        let mut tally = Tally::default();
        for device_type in ["firewall", "utm", "controller", "router", "l3Switch", "voipSwitch", "stack", "switch", "switch"] {
            tally.add(online_managed(device_type));
        }
        tally.add(online_managed("accessPoint"));
        tally.add(online_managed("thinAccessPoint"));
        assert_eq!(
            tally.counts(),
            Counts {
                total_billable_devices: 9,
                firewalls: 2,
                controllers: 1,
                routers: 1,
                layer_3_switches: 1,
                voip_switches: 1,
                switch_stacks: 1,
                total_switches: 5,
                access_points: 2,
            }
        );
        assert_eq!(tally.devices_seen(), 11);
    }

    #[test]
    fn the_first_failing_rule_is_the_reason() {
        assert_eq!(classify(Some("offline"), Some(false), Some("router")), Outcome::Excluded(Exclusion::Offline));
        assert_eq!(classify(None, Some(true), Some("router")), Outcome::Excluded(Exclusion::Offline));
        assert_eq!(classify(Some("Online"), Some(true), Some("router")), Outcome::Excluded(Exclusion::Offline));
        assert_eq!(classify(Some("online"), Some(false), Some("server")), Outcome::Excluded(Exclusion::Unmanaged));
        assert_eq!(classify(Some("online"), None, Some("router")), Outcome::Excluded(Exclusion::ManageStatusUnknown));
        assert_eq!(online_managed("server"), Outcome::Excluded(Exclusion::OtherType));
        assert_eq!(online_managed("quantumRouter"), Outcome::Excluded(Exclusion::OtherType));
        assert_eq!(classify(Some("online"), Some(true), None), Outcome::Excluded(Exclusion::OtherType));
    }

    #[test]
    fn merging_is_addition_and_every_device_is_accounted_for() {
        let mut first = Tally::default();
        first.add(online_managed("router"));
        first.add(classify(Some("dormant"), Some(true), Some("router")));
        let mut second = Tally::default();
        second.add(online_managed("accessPoint"));
        second.add(classify(Some("online"), None, Some("switch")));
        first.merge(&second);
        assert_eq!(first.devices_seen(), 4);
        assert_eq!(first.counts().total_billable_devices, 1);
        assert_eq!(first.counts().access_points, 1);
        assert_eq!(first.excluded(), Excluded { offline: 1, unmanaged: 0, manage_status_unknown: 1, other_type: 0 });
    }

    #[test]
    fn services_cover_the_published_list() {
        let named: Vec<&str> = SERVICES.iter().map(|(id, _)| *id).collect();
        for class in DeviceClass::ALL {
            for service in class.services() {
                assert!(named.contains(service), "{service}");
            }
        }
        let mut counts = Counts::default();
        for (id, _) in SERVICES {
            *counts.get_mut(id).unwrap() += 1;
        }
        assert_eq!(counts.in_service_order(), [1; 9]);
    }
}
