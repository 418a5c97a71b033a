use icu_calendar::Gregorian;
use icu_datetime::pattern::{DateTimePattern, FixedCalendarDateTimeNames};
use icu_time::{DateTime, Time};
use writeable::TryWriteable;
fn main() {
    for l in ["en", "ar", "hi", "ko", "zh-Hant"] {
        let loc: icu_locale::Locale = l.parse().unwrap();
        for p in ["h B", "h:mm BBBB", "h BBBBB"] {
            let pattern: DateTimePattern = p.parse().unwrap();
            let mut names =
                FixedCalendarDateTimeNames::<Gregorian>::try_new((&loc).into()).unwrap();
            let f = match names.include_for_pattern(&pattern) {
                Ok(f) => f,
                Err(e) => {
                    println!("{l} {p} ERR {e:?}");
                    continue;
                }
            };
            let mut line = format!("{l} {p}:");
            for h in [0u8, 5, 12, 13, 19, 22] {
                let dt = DateTime {
                    date: icu_calendar::Date::try_new_gregorian(2024, 3, 5).unwrap(),
                    time: Time::try_new(h, 4, 5, 0).unwrap(),
                };
                line += &format!(
                    " [{}]",
                    f.format(&dt)
                        .try_write_to_string()
                        .map(|s| s.into_owned())
                        .unwrap_or_else(|e| format!("E:{:?}", e.1))
                );
            }
            println!("{line}");
        }
    }
}
