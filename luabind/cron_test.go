package luabind

import (
	"fmt"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fires returns the first n times sched fires after from.
func fires(t *testing.T, spec, from string, n int) []string {
	t.Helper()
	sched, err := ParseCron(spec)
	require.NoError(t, err)
	at, err := time.Parse(time.RFC3339, from)
	require.NoError(t, err)
	var out []string
	for range n {
		at = sched.Next(at)
		out = append(out, at.UTC().Format(time.RFC3339))
	}
	return out
}

// Europe/Paris in 2026: the clock goes from 02:00 CET to 03:00 CEST on 29
// March (01:00Z) and from 03:00 CEST back to 02:00 CET on 25 October
// (01:00Z).

// TestCronSkippedTimeFiresAtTheChange: a daily job at a time the clock
// skips runs at the change that day (as with Vixie cron), once, then as
// usual; robfig/cron alone skips the day.
func TestCronSkippedTimeFiresAtTheChange(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
		fires(t, "CRON_TZ=Europe/Paris 30 2 * * *", "2026-03-27T12:00:00Z", 3))
	assert.Equal(t, []string{"2026-03-28T01:15:00Z", "2026-03-28T01:45:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:15:00Z"},
		fires(t, "CRON_TZ=Europe/Paris 15,45 2 * * *", "2026-03-27T12:00:00Z", 4), "two skipped times: one run at the change")
	// Weekdays only: Sunday 29 March is not one, so nothing at the change.
	assert.Equal(t, []string{"2026-03-27T01:30:00Z", "2026-03-30T00:30:00Z"},
		fires(t, "CRON_TZ=Europe/Paris 30 2 * * 1-5", "2026-03-26T12:00:00Z", 2))
}

// TestCronRepeatedTimeFiresOnce: a job at a time the clock goes back over
// runs the first time only.
func TestCronRepeatedTimeFiresOnce(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		fires(t, "CRON_TZ=Europe/Paris 30 2 * * *", "2026-10-23T12:00:00Z", 3))
	assert.Equal(t, []string{"2026-10-25T00:15:00Z", "2026-10-25T00:45:00Z", "2026-10-26T01:15:00Z"},
		fires(t, "CRON_TZ=Europe/Paris 15,45 2 * * *", "2026-10-24T12:00:00Z", 3))
	// From inside the repeated hour, after the first 02:30: the second is
	// not a run either.
	assert.Equal(t, []string{"2026-10-26T01:30:00Z"}, fires(t, "CRON_TZ=Europe/Paris 30 2 * * *", "2026-10-25T00:40:00Z", 1))
	// Started inside the repeated hour, after the change (02:10 the second
	// time, 01:10Z): the first 02:30 came before the start, so the second
	// is the day's run (Vixie cron started then runs it too).
	assert.Equal(t, []string{"2026-10-25T01:30:00Z", "2026-10-26T01:30:00Z"},
		fires(t, "CRON_TZ=Europe/Paris 30 2 * * *", "2026-10-25T01:10:00Z", 2))
	assert.Equal(t, []string{"2026-10-25T01:45:00Z", "2026-10-26T01:15:00Z"},
		fires(t, "CRON_TZ=Europe/Paris 15,45 2 * * *", "2026-10-25T01:20:00Z", 2), "only the times still to come")
}

// TestCronWildcardsFollowTheClock: a spec with a wildcard minute or hour
// runs by the clock as it is: every quarter of the repeated hour, and
// nothing in the skipped one.
func TestCronWildcardsFollowTheClock(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:00:00Z"},
		fires(t, "CRON_TZ=Europe/Paris */30 * * * *", "2026-10-25T00:15:00Z", 4))
	assert.Equal(t, []string{"2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"},
		fires(t, "CRON_TZ=Europe/Paris */30 * * * *", "2026-03-29T00:15:00Z", 3))
	assert.Equal(t, []string{"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"},
		fires(t, "CRON_TZ=Europe/Paris @hourly", "2026-10-24T23:30:00Z", 3))
}

// TestCronMidnightChange: where the clock skips midnight (Chile moves
// from 00:00 to 01:00), @daily runs at the change that day.
func TestCronMidnightChange(t *testing.T) {
	t.Parallel()
	loc, err := time.LoadLocation("America/Santiago")
	require.NoError(t, err)
	// The first change forward after 1 August 2026.
	_, change := time.Date(2026, 8, 1, 12, 0, 0, 0, loc).ZoneBounds()
	require.False(t, change.IsZero())
	_, before := change.Add(-time.Second).Zone()
	_, after := change.Zone()
	require.Greater(t, after, before, "a change forward")
	require.Equal(t, 1, change.In(loc).Hour(), "midnight is skipped")
	day := change.Add(-36 * time.Hour).UTC().Format(time.RFC3339)
	got := fires(t, "CRON_TZ=America/Santiago @daily", day, 2)
	assert.Equal(t, change.UTC().Format(time.RFC3339), got[1], "the day without a midnight runs at the change")
}

// TestCronTwoHourChange: where the clock goes back two hours
// (Antarctica/Troll, from +02 to +00), a spec firing every minute of the
// repeated hours fires each of them once: all 120 repeats are skipped.
func TestCronTwoHourChange(t *testing.T) {
	t.Parallel()
	loc, err := time.LoadLocation("Antarctica/Troll")
	require.NoError(t, err)
	_, back := time.Date(2026, 8, 1, 12, 0, 0, 0, loc).ZoneBounds()
	require.False(t, back.IsZero())
	_, before := back.Add(-time.Second).Zone()
	_, after := back.Zone()
	require.Equal(t, 2*3600, before-after, "a change back by two hours")
	// Every minute of the two hours before the change, at fixed times (no "*").
	wall := back.Add(-time.Minute).In(loc)
	spec := fmt.Sprintf("CRON_TZ=Antarctica/Troll 0-59 %d,%d * * *", wall.Hour()-1, wall.Hour())
	got := fires(t, spec, back.Add(-2*time.Minute).UTC().Format(time.RFC3339), 2)
	assert.Equal(t, back.Add(-time.Minute).UTC().Format(time.RFC3339), got[0])
	first, err := time.Parse(time.RFC3339, got[1])
	require.NoError(t, err)
	assert.False(t, first.Before(back.Add(2*time.Hour)), "no repeated minute fires again: %s", got[1])
}

// TestCronFixedTimes: which specs the daylight-saving rules apply to.
func TestCronFixedTimes(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string]bool{
		"0 9 * * 1-5": true, "30 2 * * *": true, "0,30 9-17 * * *": true, "CRON_TZ=Europe/Paris 0 9 * * *": true,
		"@daily": true, "@weekly": true, "@midnight": true,
		"*/5 * * * *": false, "0 * * * *": false, "0 */2 * * *": false, "* 9 * * *": false, "@hourly": false,
		"CRON_TZ=Europe/Paris */5 9 * * *": false, "? 2 * * *": false, "0 ? * * *": false,
	} {
		assert.Equal(t, want, fixedTimes(spec), spec)
	}
	sched, err := ParseCron("@every 90s")
	require.NoError(t, err)
	_, ok := sched.(cron.ConstantDelaySchedule)
	assert.True(t, ok, "@every is a constant delay: %T", sched)
}

// TestCronIn: a schedule read in another zone keeps its rules.
func TestCronIn(t *testing.T) {
	t.Parallel()
	sched, err := ParseCron("30 2 * * *")
	require.NoError(t, err)
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	s := sched.(*Schedule).In(paris)
	assert.Equal(t, paris, s.Location())
	at := s.Next(time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC))
	assert.Equal(t, "2026-03-29T01:00:00Z", at.UTC().Format(time.RFC3339))
}

// TestCronSundayIsSevenToo: as in Vixie cron, 7 is Sunday in the
// day-of-week field, alone, in a list, a range and a stepped range, and
// with a zone prefix; the rest of a spec is left as it is.
func TestCronSundayIsSevenToo(t *testing.T) {
	t.Parallel()
	// 2026-12-02 is a Wednesday; the next Sunday is the 6th.
	const from = "2026-12-02T10:00:00Z"
	assert.Equal(t, []string{"2026-12-06T09:00:00Z", "2026-12-13T09:00:00Z"}, fires(t, "0 9 * * 7", from, 2))
	assert.Equal(t, fires(t, "0 9 * * 0", from, 3), fires(t, "0 9 * * 7", from, 3))
	assert.Equal(t, []string{"2026-12-04T09:00:00Z", "2026-12-05T09:00:00Z", "2026-12-06T09:00:00Z", "2026-12-11T09:00:00Z"},
		fires(t, "0 9 * * 5-7", from, 4), "Friday to Sunday")
	assert.Equal(t, []string{"2026-12-04T09:00:00Z", "2026-12-06T09:00:00Z", "2026-12-07T09:00:00Z"},
		fires(t, "0 9 * * 1-7/2", from, 3), "1, 3, 5, 7: Mon, Wed, Fri, Sun (Wednesday the 2nd is past 9:00)")
	assert.Equal(t, []string{"2026-12-03T09:00:00Z", "2026-12-06T09:00:00Z"}, fires(t, "0 9 * * 4,7", from, 2))
	assert.Equal(t, []string{"2026-12-06T08:00:00Z"}, fires(t, "CRON_TZ=Europe/Paris 0 9 * * 7", from, 1))
	assert.Equal(t, "0 9 17 * 0", sundaySeven("0 9 17 * 7"), "a 7 in another field stays")
	for _, bad := range []string{"0 9 * * 8", "0 9 * * 6-8", "0 9 * * 7-1", "0 9 * * 7/0"} {
		_, err := ParseCron(bad)
		assert.Error(t, err, bad)
	}
}

// TestCronThatNeverFiresRefused: a spec no date matches (the 31st of
// February) is refused with the reason, not accepted to never run; the
// 29th of February is a date.
func TestCronThatNeverFiresRefused(t *testing.T) {
	t.Parallel()
	_, err := ParseCron("0 9 31 2 *")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `bad cron spec "0 9 31 2 *": it never fires`)
	_, err = ParseCron("0 9 30 2 *")
	assert.Error(t, err)
	_, err = ParseCron("0 9 29 2 *")
	assert.NoError(t, err)
	_, err = ParseCron("@every 1h")
	assert.NoError(t, err)
}

// TestCronShorthands: the shorthands the README lists are taken, and
// @reboot, which it says is not, is refused.
func TestCronShorthands(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually", "@every 10m", "CRON_TZ=Europe/Berlin @daily"} {
		_, err := ParseCron(spec)
		assert.NoError(t, err, spec)
	}
	_, err := ParseCron("@reboot")
	assert.ErrorContains(t, err, `bad cron spec "@reboot"`)
}
