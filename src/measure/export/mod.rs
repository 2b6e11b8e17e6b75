//! Results in files and machine formats, one module per format: JSON, HdrHistogram's percentile
//! distribution (`.hgrm`) and interval log (`.hlog`), and an SVG plot.

mod hgrm;
pub(crate) mod hlog;
pub mod json;
mod plot;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::report::Histograms;

/// The files a run's histograms go to, each when asked for.
#[derive(Debug, Clone, Default)]
pub struct ExportFiles {
    /// The percentile distribution (`.hgrm`).
    pub hgrm: Option<PathBuf>,
    /// The interval log (`.hlog`).
    pub hlog: Option<PathBuf>,
    /// The plot (`.svg`).
    pub plot: Option<PathBuf>,
}

impl ExportFiles {
    /// Whether the run must keep one histogram per second (the log and the plot need them).
    pub fn need_intervals(&self) -> bool {
        self.hlog.is_some() || self.plot.is_some()
    }

    /// Writes every file asked for, each named on standard error once it is written (`wrote
    /// lat.svg`); `title` says what was measured.
    pub(crate) fn write(&self, histograms: &Histograms, title: &str) -> anyhow::Result<()> {
        if let Some(path) = &self.hgrm {
            write_file(path, |out| Ok(hgrm::write(&histograms.latency, out)?))?;
        }
        if let Some(path) = &self.hlog {
            write_file(path, |out| hlog::write(histograms, title, out))?;
        }
        if let Some(path) = &self.plot {
            let svg = plot::svg(histograms, title)?;
            write_file(path, |out| Ok(out.write_all(svg.as_bytes())?))?;
        }
        Ok(())
    }
}

fn write_file(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let written = File::create(path)
        .map_err(anyhow::Error::new)
        .and_then(|file| {
            let mut out = BufWriter::new(file);
            write(&mut out)?;
            Ok(out.flush()?)
        });
    written.with_context(|| format!("could not write {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
