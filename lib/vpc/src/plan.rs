//! Pure planning: which availability zones, and which subnet CIDRs, from the flags and the
//! zones the region offers. No I/O, so every rule here has a unit test.

use ekskit_core::InputError;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// AWS's limits on a VPC's primary CIDR block.
const VPC_PREFIX_MIN: u8 = 16;
const VPC_PREFIX_MAX: u8 = 28;
/// EKS wants at least /28 per subnet (and room for nodes and pods in the private ones).
const SUBNET_PREFIX_MAX: u8 = 28;
/// EKS needs subnets in at least two zones.
const MIN_AZS: usize = 2;
pub const DEFAULT_AZS: usize = 3;

/// Zone IDs where EKS does not place control planes (the EKS user guide's subnet requirements;
/// eksctl avoids the same ones). Zone IDs, unlike names, are the same for every account.
const ZONES_EKS_REFUSES: &[&str] = &["use1-az3", "usw1-az2", "cac1-az3", "cnn1-az4"];

/// An availability zone as DescribeAvailabilityZones reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub id: String,
    pub state: String,
    pub zone_type: String,
}

/// How the user chose zones: `--azs 2` or `--azs us-east-1a,us-east-1b` (names or zone IDs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzChoice {
    Default,
    Count(usize),
    Named(Vec<String>),
}

impl AzChoice {
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let text = text.trim();
        if let Ok(n) = text.parse::<usize>() {
            if n < MIN_AZS {
                return Err(InputError::new(format!("--azs {n}: EKS needs subnets in at least {MIN_AZS} zones"))
                    .hint("pass --azs 2 or more"));
            }
            return Ok(Self::Count(n));
        }
        let names: Vec<String> = text.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        let looks_like_zones = names.iter().all(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if names.is_empty() || !looks_like_zones {
            return Err(InputError::new(format!("--azs `{text}` is neither a count nor a list of zones"))
                .hint("pass a number (--azs 3) or zone names or IDs (--azs us-east-1a,us-east-1b)"));
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != names.len() {
            return Err(InputError::new(format!("--azs `{text}` names a zone twice")));
        }
        if names.len() < MIN_AZS {
            return Err(InputError::new(format!("--azs `{text}`: EKS needs subnets in at least {MIN_AZS} zones"))
                .hint("name two or more zones"));
        }
        Ok(Self::Named(names))
    }
}

fn usable(zone: &Zone) -> bool {
    zone.state == "available" && zone.zone_type == "availability-zone" && !ZONES_EKS_REFUSES.contains(&zone.id.as_str())
}

/// Picks the zones: the named ones (each must be usable), or the first N usable ones by name.
/// The default is 3, or fewer where the region has fewer usable zones.
pub fn select_azs(region: &str, zones: &[Zone], choice: &AzChoice) -> Result<Vec<Zone>, InputError> {
    let mut candidates: Vec<&Zone> = zones.iter().filter(|z| usable(z)).collect();
    candidates.sort_by(|a, b| a.name.cmp(&b.name));
    let usable_names = || candidates.iter().map(|z| z.name.as_str()).collect::<Vec<_>>().join(", ");
    let picked: Vec<Zone> = match choice {
        AzChoice::Named(wanted) => {
            let mut picked = Vec::new();
            for want in wanted {
                let Some(zone) = zones.iter().find(|z| &z.name == want || &z.id == want) else {
                    return Err(InputError::new(format!("zone `{want}` does not exist in {region}"))
                        .hint(format!("usable zones in {region}: {}", usable_names())));
                };
                if !usable(zone) {
                    let why = if ZONES_EKS_REFUSES.contains(&zone.id.as_str()) {
                        "EKS does not support it".to_owned()
                    } else {
                        format!("it is a {} zone in state {}", zone.zone_type, zone.state)
                    };
                    return Err(InputError::new(format!("zone {} ({}) cannot be used: {why}", zone.name, zone.id))
                        .hint(format!("usable zones in {region}: {}", usable_names())));
                }
                picked.push(zone.clone());
            }
            picked
        }
        AzChoice::Count(n) if *n > candidates.len() => {
            return Err(InputError::new(format!(
                "--azs {n}: {region} has only {} zones EKS can use ({})",
                candidates.len(),
                usable_names()
            ))
            .hint(format!("pass --azs {} or fewer", candidates.len())));
        }
        AzChoice::Count(n) => candidates.iter().take(*n).map(|z| (*z).clone()).collect(),
        AzChoice::Default => candidates.iter().take(DEFAULT_AZS).map(|z| (*z).clone()).collect(),
    };
    if picked.len() < MIN_AZS {
        return Err(InputError::new(format!("{region} has {} zones EKS can use; EKS needs {MIN_AZS}", picked.len()))
            .hint("pick another region"));
    }
    Ok(picked)
}

/// Parses and checks the VPC CIDR: a network address, /16 to /28, as AWS allows.
pub fn parse_vpc_cidr(text: &str) -> Result<Ipv4Net, InputError> {
    let hint = "pass an IPv4 network such as --cidr 10.0.0.0/16 (prefix /16 to /28)";
    let net: Ipv4Net =
        text.trim().parse().map_err(|_| InputError::new(format!("--cidr `{text}` is not an IPv4 CIDR")).hint(hint))?;
    if !(VPC_PREFIX_MIN..=VPC_PREFIX_MAX).contains(&net.prefix_len()) {
        return Err(InputError::new(format!(
            "--cidr {net}: AWS allows VPC prefixes from /{VPC_PREFIX_MIN} to /{VPC_PREFIX_MAX}"
        ))
        .hint(hint));
    }
    if net.addr() != net.network() {
        return Err(InputError::new(format!("--cidr {net} has host bits set"))
            .hint(format!("did you mean --cidr {}?", net.trunc())));
    }
    Ok(net)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Public,
    Private,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Public => "public",
            Tier::Private => "private",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetPlan {
    pub tier: Tier,
    pub az: String,
    pub az_id: String,
    pub cidr: Ipv4Net,
}

/// Splits the VPC into 2N equal blocks: public subnets first, then private, one of each per
/// zone, in zone order. A /16 over 3 zones gives six /19s, as eksctl does.
pub fn plan_subnets(vpc: Ipv4Net, azs: &[Zone]) -> Result<Vec<SubnetPlan>, InputError> {
    let slots = 2 * azs.len();
    let extra_bits = u8::try_from(slots.next_power_of_two().trailing_zeros()).unwrap_or(u8::MAX);
    let prefix = vpc.prefix_len().saturating_add(extra_bits);
    if prefix > SUBNET_PREFIX_MAX {
        let needed = SUBNET_PREFIX_MAX - extra_bits;
        return Err(InputError::new(format!(
            "--cidr {vpc} is too small for {} public and {} private subnets: each would be /{prefix}, \
             smaller than /{SUBNET_PREFIX_MAX}",
            azs.len(),
            azs.len()
        ))
        .hint(format!("use a /{needed} or larger VPC CIDR, or fewer --azs")));
    }
    let blocks: Vec<Ipv4Net> = vpc
        .subnets(prefix)
        .map_err(|e| InputError::new(format!("cannot split {vpc} into /{prefix}: {e}")))?
        .take(slots)
        .collect();
    let plan = [Tier::Public, Tier::Private]
        .into_iter()
        .flat_map(|tier| azs.iter().map(move |z| (tier, z)))
        .zip(blocks)
        .map(|((tier, zone), cidr)| SubnetPlan { tier, az: zone.name.clone(), az_id: zone.id.clone(), cidr })
        .collect();
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str, id: &str) -> Zone {
        Zone { name: name.into(), id: id.into(), state: "available".into(), zone_type: "availability-zone".into() }
    }

    fn us_east_1() -> Vec<Zone> {
        vec![
            zone("us-east-1a", "use1-az6"),
            zone("us-east-1b", "use1-az1"),
            zone("us-east-1c", "use1-az2"),
            zone("us-east-1d", "use1-az4"),
            zone("us-east-1e", "use1-az3"),
            zone("us-east-1f", "use1-az5"),
            Zone { zone_type: "local-zone".into(), ..zone("us-east-1-bos-1a", "use1-bos1-az1") },
        ]
    }

    fn names(zones: &[Zone]) -> Vec<&str> {
        zones.iter().map(|z| z.name.as_str()).collect()
    }

    #[test]
    fn default_is_three_zones_by_name() {
        let picked = select_azs("us-east-1", &us_east_1(), &AzChoice::Default).unwrap();
        assert_eq!(names(&picked), ["us-east-1a", "us-east-1b", "us-east-1c"]);
    }

    #[test]
    fn default_takes_fewer_where_the_region_has_fewer() {
        let two = vec![zone("us-west-1a", "usw1-az1"), zone("us-west-1b", "usw1-az2"), zone("us-west-1c", "usw1-az3")];
        let picked = select_azs("us-west-1", &two, &AzChoice::Default).unwrap();
        assert_eq!(names(&picked), ["us-west-1a", "us-west-1c"], "usw1-az2 is excluded");
    }

    #[test]
    fn counts_skip_zones_eks_refuses_and_local_zones() {
        let picked = select_azs("us-east-1", &us_east_1(), &AzChoice::Count(6)).unwrap_err();
        assert!(picked.message.contains("has only 5 zones EKS can use"), "{picked}");
        let five = select_azs("us-east-1", &us_east_1(), &AzChoice::Count(5)).unwrap();
        assert!(!names(&five).contains(&"us-east-1e"));
    }

    #[test]
    fn named_zones_by_name_or_id_keep_their_order() {
        let choice = AzChoice::parse("us-east-1c, use1-az6").unwrap();
        let picked = select_azs("us-east-1", &us_east_1(), &choice).unwrap();
        assert_eq!(names(&picked), ["us-east-1c", "us-east-1a"]);
    }

    #[test]
    fn naming_a_refused_or_unknown_zone_is_an_input_error() {
        let choice = AzChoice::parse("us-east-1a,us-east-1e").unwrap();
        let err = select_azs("us-east-1", &us_east_1(), &choice).unwrap_err();
        assert_eq!(err.message, "zone us-east-1e (use1-az3) cannot be used: EKS does not support it");
        let choice = AzChoice::parse("us-east-1a,us-east-1z").unwrap();
        assert!(select_azs("us-east-1", &us_east_1(), &choice).is_err());
    }

    #[test]
    fn az_choice_parsing() {
        assert_eq!(AzChoice::parse("3").unwrap(), AzChoice::Count(3));
        assert!(AzChoice::parse("1").is_err());
        assert!(AzChoice::parse("us-east-1a").is_err(), "one zone is not enough");
        assert!(AzChoice::parse("us-east-1a,us-east-1a").is_err());
        assert!(AzChoice::parse("a b").is_err());
    }

    #[test]
    fn cidr_checks() {
        assert_eq!(parse_vpc_cidr("10.0.0.0/16").unwrap().to_string(), "10.0.0.0/16");
        for bad in ["10.0.0.0", "10.0.0.0/8", "10.0.0.0/29", "10.0.0.1/16", "300.0.0.0/16", "fd00::/64", "x"] {
            assert!(parse_vpc_cidr(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_vpc_cidr("10.0.0.1/16").unwrap_err().hint.as_deref(),
            Some("did you mean --cidr 10.0.0.0/16?")
        );
    }

    #[test]
    fn a_slash_16_over_three_zones_is_six_slash_19s_like_eksctl() {
        let azs = &us_east_1()[..3];
        let plan = plan_subnets("10.0.0.0/16".parse().unwrap(), azs).unwrap();
        let got: Vec<String> = plan.iter().map(|s| format!("{} {} {}", s.tier.as_str(), s.az, s.cidr)).collect();
        assert_eq!(
            got,
            [
                "public us-east-1a 10.0.0.0/19",
                "public us-east-1b 10.0.32.0/19",
                "public us-east-1c 10.0.64.0/19",
                "private us-east-1a 10.0.96.0/19",
                "private us-east-1b 10.0.128.0/19",
                "private us-east-1c 10.0.160.0/19",
            ]
        );
    }

    #[test]
    fn subnets_never_overlap_and_stay_inside_the_vpc() {
        for (cidr, n) in [("10.0.0.0/16", 2), ("10.0.0.0/16", 4), ("172.16.0.0/20", 5), ("192.168.0.0/24", 3)] {
            let vpc: Ipv4Net = cidr.parse().unwrap();
            let azs: Vec<Zone> = us_east_1().into_iter().filter(usable).take(n).collect();
            let plan = plan_subnets(vpc, &azs).unwrap();
            assert_eq!(plan.len(), 2 * n);
            for (i, a) in plan.iter().enumerate() {
                assert!(vpc.contains(&a.cidr));
                for b in &plan[i + 1..] {
                    assert!(!a.cidr.contains(&b.cidr.network()) && !b.cidr.contains(&a.cidr.network()), "{a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn a_cidr_too_small_for_the_subnets_is_an_input_error() {
        let azs = &us_east_1()[..3];
        let err = plan_subnets("10.0.0.0/26".parse().unwrap(), azs).unwrap_err();
        assert!(err.message.contains("too small for 3 public and 3 private subnets"), "{err}");
        assert_eq!(err.hint.as_deref(), Some("use a /25 or larger VPC CIDR, or fewer --azs"));
        assert!(plan_subnets("10.0.0.0/25".parse().unwrap(), azs).is_ok());
    }
}
