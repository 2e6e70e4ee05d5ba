-- The segment map names each of the 25 R x F cells exactly once.
with grid as (

    select r.score as r_score, f.score as f_score
    from (select 1 as score union all select 2 union all select 3 union all select 4 union all select 5) as r
    cross join (select 1 as score union all select 2 union all select 3 union all select 4 union all select 5) as f

),

matches as (

    select grid.r_score, grid.f_score, count(m.rfm_segment) as names
    from grid
    left join {{ ref('rfm_segment_map') }} as m on m.r_score = grid.r_score and m.f_score = grid.f_score
    group by grid.r_score, grid.f_score

)

select * from matches where names <> 1
union all
select r_score, f_score, count(*) from {{ ref('rfm_segment_map') }}
where r_score not between 1 and 5 or f_score not between 1 and 5
group by r_score, f_score
