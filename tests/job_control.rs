//! Terminal job control through a real pty (tmux): Ctrl-Z stops the job lxrun runs and the
//! shell sees it stopped, `fg` resumes it, Ctrl-C reaches the foreground guest program (also
//! inside an interactive guest bash), and nothing is left behind.

mod common;

use common::*;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

struct Tmux(String);

impl Tmux {
    fn start(name: &str) -> Tmux {
        let name = format!("lxrun-{name}-{}", std::process::id());
        let ok = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "150",
                "-y",
                "40",
                "env -i PATH=/usr/bin:/bin TERM=xterm bash --norc -i",
            ])
            .status()
            .expect("tmux (run tests/setup.sh)");
        assert!(ok.success());
        sleep(Duration::from_millis(300));
        Tmux(name)
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.0];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text` (at most 10 s).
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.screen();
            if s.contains(text) || Instant::now() > deadline {
                return s;
            }
            sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).status();
    }
}

fn left_behind(marker: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false)
}

#[test]
fn ctrl_z_fg_and_ctrl_c() {
    for backend in backends() {
        let marker = format!("31.{}", std::process::id() % 1000);
        let t = Tmux::start(&format!("jc-{backend}"));
        t.keys(&[
            &format!("{} --backend {backend} sleep {marker}", lxrun().display()),
            "Enter",
        ]);
        sleep(Duration::from_millis(700));
        t.keys(&["C-z"]);
        let s = t.wait_for("Stopped");
        assert!(s.contains("Stopped"), "[{backend}] Ctrl-Z did not stop the job:\n{s}");
        t.keys(&["fg", "Enter"]);
        sleep(Duration::from_millis(500));
        t.keys(&["C-c"]);
        sleep(Duration::from_millis(300));
        t.keys(&["echo status=$?", "Enter"]);
        // The output, at the start of a line (the typed command holds "status=" too).
        let s = t.wait_for("\nstatus=");
        assert!(
            s.contains("status=130"),
            "[{backend}] Ctrl-C did not end the job with SIGINT:\n{s}"
        );
        assert!(
            !left_behind(&format!("sleep {marker}")),
            "[{backend}] the guest outlived its job"
        );
    }
}

#[test]
fn interactive_guest_bash() {
    for backend in backends() {
        let marker = format!("32.{}", std::process::id() % 1000);
        let t = Tmux::start(&format!("ib-{backend}"));
        t.keys(&[
            &format!("{} --backend {backend} bash --norc -i", lxrun().display()),
            "Enter",
        ]);
        sleep(Duration::from_millis(700));
        t.keys(&[&format!("sleep {marker}"), "Enter"]);
        sleep(Duration::from_millis(500));
        t.keys(&["C-c"]);
        sleep(Duration::from_millis(300));
        t.keys(&["echo inner=$?; exit 7", "Enter"]);
        sleep(Duration::from_millis(500));
        t.keys(&["echo outer=$?", "Enter"]);
        let s = t.wait_for("\nouter=");
        assert!(
            s.contains("inner=130"),
            "[{backend}] Ctrl-C did not reach the guest's foreground job:\n{s}"
        );
        assert!(
            s.contains("outer=7"),
            "[{backend}] the guest shell's exit status was lost:\n{s}"
        );
        assert!(
            !left_behind(&format!("sleep {marker}")),
            "[{backend}] a guest process was left behind"
        );
    }
}
