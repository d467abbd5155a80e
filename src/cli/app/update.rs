//! `keygate app update`: change a registered app's settings in place, so an
//! operator need not remove it (ending every session and token its users
//! hold) to move a redirect URI, a network or a limit.
//!
//! Each flag given replaces that whole setting and the others stay; the
//! `--no-…` flags empty one. Everything is checked before the database is
//! opened, and the change is one statement: a bad flag changes nothing. The
//! audit entry lists each setting that changed, old and new.

use clap::Args;
use ipnet::IpNet;

use super::{
    audit, check_redirect_uris, db_error, find, join, kind, parse_networks, parse_rate_limit, rate_limit,
};
use crate::cli::CliError;
use crate::cli::common::DatabaseArgs;
use crate::store::{App, AppSettings, AuditEvent};

/// Arguments of `keygate app update`.
#[derive(Debug, Args)]
pub(crate) struct AppUpdateArgs {
    /// The application's api_key or name.
    pub app: String,
    /// The allowed OAuth redirect URIs, replacing the registered list
    /// (repeat for several); their hosts are also login.php's allowed `next`.
    #[arg(long = "redirect-uri", value_name = "URL", conflicts_with = "no_redirect_uri")]
    pub redirect_uris: Vec<String>,
    /// Remove every redirect URI: the OAuth dialog refuses all, login.php
    /// ends on its own page.
    #[arg(long)]
    pub no_redirect_uri: bool,
    /// The source networks API calls may come from, replacing the list
    /// (repeat for several).
    #[arg(long = "allow-ip", value_name = "CIDR", conflicts_with = "no_allow_ip")]
    pub allow_ips: Vec<String>,
    /// Accept API calls from any address.
    #[arg(long)]
    pub no_allow_ip: bool,
    /// Limit API calls, e.g. 600/min, replacing the limit.
    #[arg(long, value_name = "N/min", conflicts_with = "no_rate_limit")]
    pub rate_limit: Option<String>,
    /// No limit on API calls.
    #[arg(long)]
    pub no_rate_limit: bool,
    /// Make it a desktop application: its new sessions always get a session secret.
    #[arg(long, conflicts_with = "web")]
    pub desktop: bool,
    /// Make it a web application: its sessions get a secret only when asked for.
    #[arg(long)]
    pub web: bool,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

/// The settings the flags ask for, checked; `None` keeps the current one.
#[derive(Debug)]
struct Wanted {
    redirect_uris: Option<Vec<String>>,
    allowed_ips: Option<Vec<IpNet>>,
    rate_limit: Option<Option<u32>>,
    desktop: Option<bool>,
}

impl Wanted {
    /// Checks every flag with the validators `app add` uses.
    fn from_args(args: &AppUpdateArgs) -> Result<Self, CliError> {
        let redirect_uris = if args.no_redirect_uri {
            Some(Vec::new())
        } else if args.redirect_uris.is_empty() {
            None
        } else {
            Some(check_redirect_uris(&args.redirect_uris)?)
        };
        let allowed_ips = if args.no_allow_ip {
            Some(Vec::new())
        } else if args.allow_ips.is_empty() {
            None
        } else {
            Some(parse_networks(&args.allow_ips)?)
        };
        let rate_limit = if args.no_rate_limit {
            Some(None)
        } else {
            args.rate_limit.as_deref().map(parse_rate_limit).transpose()?.map(Some)
        };
        let desktop = match (args.desktop, args.web) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        let wanted = Self { redirect_uris, allowed_ips, rate_limit, desktop };
        if wanted.is_nothing() {
            // Checked here rather than by a required clap group, whose
            // one-word synopsis no manual page can break across lines.
            return Err(CliError::usage(
                "nothing to change: give --redirect-uri, --allow-ip, --rate-limit, --desktop, --web \
                 or one of the --no-... flags",
            ));
        }
        Ok(wanted)
    }

    fn is_nothing(&self) -> bool {
        self.redirect_uris.is_none()
            && self.allowed_ips.is_none()
            && self.rate_limit.is_none()
            && self.desktop.is_none()
    }

    /// The app's settings with these applied, and one line per setting
    /// that differs from the app's: `rate_limit: unlimited -> 600/min`.
    fn apply<'a>(&'a self, app: &'a App) -> (AppSettings<'a>, Vec<String>) {
        let current_limit = app.rate_limit_per_min.and_then(|n| u32::try_from(n).ok());
        let settings = AppSettings {
            desktop: self.desktop.unwrap_or(app.desktop),
            redirect_uris: self.redirect_uris.as_deref().unwrap_or(&app.redirect_uris),
            allowed_ips: self.allowed_ips.as_deref().unwrap_or(&app.allowed_ips),
            rate_limit_per_min: self.rate_limit.unwrap_or(current_limit),
        };
        let mut changes = Vec::new();
        if settings.redirect_uris != app.redirect_uris.as_slice() {
            changes.push(format!(
                "redirect_uris: [{}] -> [{}]",
                join(&app.redirect_uris),
                join(settings.redirect_uris)
            ));
        }
        if settings.allowed_ips != app.allowed_ips.as_slice() {
            changes.push(format!(
                "allowed_ips: [{}] -> [{}]",
                join(&app.allowed_ips),
                join(settings.allowed_ips)
            ));
        }
        if settings.rate_limit_per_min != current_limit {
            changes.push(format!(
                "rate_limit: {} -> {}",
                rate_limit(app.rate_limit_per_min),
                rate_limit(settings.rate_limit_per_min.map(i64::from))
            ));
        }
        if settings.desktop != app.desktop {
            changes.push(format!("kind: {} -> {}", kind(app.desktop), kind(settings.desktop)));
        }
        (settings, changes)
    }
}

pub(super) async fn run(args: AppUpdateArgs) -> Result<(), CliError> {
    let wanted = Wanted::from_args(&args)?;
    let store = args.db.open().await?;
    let app = find(&store, &args.app).await?;
    let (settings, changes) = wanted.apply(&app);
    if changes.is_empty() {
        println!("app {} unchanged: it has those settings already", app.name);
        return Ok(());
    }
    store.update_app(app.id, &settings).await.map_err(db_error)?;
    let detail = format!("updated app {} ({}): {}", app.name, app.api_key, changes.join("; "));
    audit(&store, AuditEvent::AdminAppUpdate, &detail).await?;
    println!("updated app {}", app.name);
    for change in &changes {
        println!("  {change}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        update: AppUpdateArgs,
    }

    fn parse(args: &[&str]) -> Result<AppUpdateArgs, clap::Error> {
        Cli::try_parse_from([&["update", "demo"][..], args].concat()).map(|cli| cli.update)
    }

    fn app() -> App {
        App {
            id: 1,
            name: "demo".into(),
            api_key: "k".into(),
            secret_sealed: Vec::new(),
            desktop: false,
            redirect_uris: vec!["https://a.example/cb".into()],
            allowed_ips: vec!["10.0.0.0/8".parse().unwrap()],
            rate_limit_per_min: Some(60),
            created_at: 0,
            secret_rotated_at: 0,
        }
    }

    #[test]
    fn some_change_is_required_and_opposites_conflict() {
        let nothing = Wanted::from_args(&parse(&[]).unwrap()).unwrap_err();
        assert_eq!(nothing.status(), CliError::USAGE, "{nothing}");
        assert!(parse(&["--desktop", "--web"]).is_err());
        assert!(parse(&["--allow-ip", "10.0.0.0/8", "--no-allow-ip"]).is_err());
        assert!(parse(&["--rate-limit", "5", "--no-rate-limit"]).is_err());
        assert!(parse(&["--redirect-uri", "https://a.example/cb", "--no-redirect-uri"]).is_err());
        assert!(parse(&["--web"]).is_ok());
    }

    #[test]
    fn given_settings_replace_and_others_stay() {
        let args = parse(&["--allow-ip", "127.0.0.1", "--allow-ip", "::1", "--desktop"]).unwrap();
        let wanted = Wanted::from_args(&args).unwrap();
        let app = app();
        let (settings, changes) = wanted.apply(&app);
        assert_eq!(settings.redirect_uris, app.redirect_uris.as_slice());
        assert_eq!(settings.rate_limit_per_min, Some(60));
        assert!(settings.desktop);
        assert_eq!(changes, ["allowed_ips: [10.0.0.0/8] -> [127.0.0.1/32, ::1/128]", "kind: web -> desktop"]);
    }

    #[test]
    fn no_flags_empty_a_setting() {
        let args = parse(&["--no-allow-ip", "--no-rate-limit", "--no-redirect-uri"]).unwrap();
        let app = app();
        let wanted = Wanted::from_args(&args).unwrap();
        let (settings, changes) = wanted.apply(&app);
        assert!(settings.allowed_ips.is_empty() && settings.redirect_uris.is_empty());
        assert_eq!(settings.rate_limit_per_min, None);
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert!(changes.contains(&"rate_limit: 60/min -> unlimited".to_owned()));
    }

    #[test]
    fn the_same_settings_are_no_change() {
        let args = parse(&["--redirect-uri", "https://a.example/cb", "--web"]).unwrap();
        let app = app();
        let wanted = Wanted::from_args(&args).unwrap();
        assert!(wanted.apply(&app).1.is_empty());
    }

    #[test]
    fn bad_values_are_refused_before_anything_opens() {
        for bad in [
            &["--allow-ip", "10.0.0.0/33"][..],
            &["--redirect-uri", "javascript:alert(1)"],
            &["--rate-limit", "0/min"],
        ] {
            let args = parse(bad).unwrap();
            assert!(Wanted::from_args(&args).is_err(), "{bad:?}");
        }
    }
}
