-- Seed D's report "users_report": the best-selling pizzas of seed E's sample.
SELECT pizza_id, SUM(quantity) AS sold
FROM output_crawler.order_details
GROUP BY pizza_id
ORDER BY sold DESC, pizza_id
LIMIT 5
