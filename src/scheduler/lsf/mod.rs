//! placeholder
use crate::command::{CommandOutput, CommandSpec};
use crate::ids::SchedulerJobId;
use crate::scheduler::{JobStatus, ParseError, Scheduler, SchedulerKind};
/// The Lsf adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct LsfScheduler;
impl Scheduler for LsfScheduler {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Lsf
    }
    fn default_header(&self) -> &'static [&'static str] {
        todo!()
    }
    fn submit(&self, _job_dir: &str, _script: &str) -> CommandSpec {
        todo!()
    }
    fn parse_submit(&self, _output: &CommandOutput) -> Result<SchedulerJobId, ParseError> {
        todo!()
    }
    fn status(&self, _ids: &[SchedulerJobId]) -> CommandSpec {
        todo!()
    }
    fn parse_status(&self, _output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        todo!()
    }
    fn accounting(&self, _ids: &[SchedulerJobId]) -> CommandSpec {
        todo!()
    }
    fn parse_accounting(&self, _output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        todo!()
    }
    fn find_by_name(&self, _names: &[String]) -> CommandSpec {
        todo!()
    }
    fn parse_find_by_name(&self, _output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        todo!()
    }
    fn cancel(&self, _ids: &[SchedulerJobId]) -> CommandSpec {
        todo!()
    }
    fn hold(&self, _ids: &[SchedulerJobId]) -> CommandSpec {
        todo!()
    }
    fn release(&self, _ids: &[SchedulerJobId]) -> CommandSpec {
        todo!()
    }
}
