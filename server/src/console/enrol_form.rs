//! The pharmacy enrolment form as the browser posts it (every field a string, checked later).

use serde::Deserialize;
use sotto_domain::Weekday;

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct EnrolForm {
    pub csrf: String,
    pub ods_code: String,
    pub name: String,
    pub closing_time: String,
    pub timezone: String,
    pub closed_mon: String,
    pub closed_tue: String,
    pub closed_wed: String,
    pub closed_thu: String,
    pub closed_fri: String,
    pub closed_sat: String,
    pub closed_sun: String,
    pub open_mon: String,
    pub close_mon: String,
    pub open_tue: String,
    pub close_tue: String,
    pub open_wed: String,
    pub close_wed: String,
    pub open_thu: String,
    pub close_thu: String,
    pub open_fri: String,
    pub close_fri: String,
    pub open_sat: String,
    pub close_sat: String,
    pub open_sun: String,
    pub close_sun: String,
}

impl EnrolForm {
    pub(super) fn closed(&self, d: Weekday) -> bool {
        !match d {
            Weekday::Mon => &self.closed_mon,
            Weekday::Tue => &self.closed_tue,
            Weekday::Wed => &self.closed_wed,
            Weekday::Thu => &self.closed_thu,
            Weekday::Fri => &self.closed_fri,
            Weekday::Sat => &self.closed_sat,
            Weekday::Sun => &self.closed_sun,
        }
        .is_empty()
    }
}
